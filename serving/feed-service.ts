// Computes a user's feed from the live state: stage 1 retrieves candidates from several rails (ANN over the user's ALS
// vector, popular, trending, fresh items), stage 2 filters them exactly (seen, excluded, deleted, hard attribute
// constraints), widening a rail's pool when the filters remove too much, and the rails are merged by share
// (core/retrieval.ts). Tenant isolation holds by construction: every rail reads only the caller's tenant's keys, model
// and index partition; a registered tenant without data is served from the read-only community partition, marked so.
import { randomUUID } from 'node:crypto';
import { hasConstraints, satisfies, type CatalogItem, type Constraints } from '../core/catalog.ts';
import type { Config } from '../core/config.ts';
import type { ScoredItem } from '../core/feed.ts';
import type { ValidFeedRequest } from '../core/feed-request.ts';
import { recommendAls } from '../core/models/als.ts';
import { decayedScore } from '../core/popularity.ts';
import { mergeRails, type Candidate, type Rail } from '../core/retrieval.ts';
import type { Redis } from '../platform/redis.ts';
import type { Logger } from '../platform/logger.ts';
import type { AlsModelStore, LoadedAls } from '../processors/als-model-store.ts';
import { readCatalogItems, readFreshItems } from '../processors/catalog-store.ts';
import type { IndexManager } from './index/index-manager.ts';
import { popularityKey, readFeedInputs, readTopItems, trendingKey, type FeedInputs } from '../processors/feature-store.ts';

export const INDEX_VERSION = 'redis-live';
/** indexVersion when ALS candidates were scored exhaustively (no HNSW index loaded for the tenant yet). */
export const EXACT_INDEX = 'exact';

export type FeedOutcome =
  | { status: 'ok'; recommendationId: string; items: Candidate[]; modelVersion: string; indexVersion: string; fallback: 'community' | null }
  | { status: 'unknown_tenant' | 'unknown_user'; field: 'tenant' | 'user'; error: string };

export interface FeedServiceOptions {
  redis: Redis;
  /** The version reported for the non-personal rails. */
  modelVersion: string;
  halfLifeMs: number;
  trendingHalfLifeMs: number;
  freshMaxAgeMs: number;
  retrieval: Config['retrieval'];
  models?: AlsModelStore | null;
  indexes?: IndexManager | null;
  /** The read-only partition served to a registered tenant that has no data yet. */
  community?: { partition: string; isRegistered: (tenant: string) => Promise<boolean> } | null;
  logger?: Logger | null;
}

interface Personal {
  model: LoadedAls;
  vector: Float64Array;
}

/** One request's stage-2 filter: what the user saw or excluded, and the catalogue facts looked up so far. */
class ExactFilter {
  private readonly catalog = new Map<string, CatalogItem | null>();

  constructor(
    private readonly redis: Redis,
    private readonly partition: string,
    readonly blocked: ReadonlySet<string>,
    private readonly where: Constraints,
  ) {}

  /**
   * The first `need` items that pass, in their order. Catalogue records are looked up in chunks of about 2·need (one
   * Redis round trip each, skipping records already known), so a long pool costs only what is needed to fill k.
   */
  async keep(items: readonly ScoredItem[], need: number): Promise<ScoredItem[]> {
    const open = items.filter((i) => !this.blocked.has(i.itemId));
    const out: ScoredItem[] = [];
    const chunk = Math.max(32, 2 * need);
    for (let start = 0; start < open.length && out.length < need; start += chunk) {
      const slice = open.slice(start, start + chunk);
      const missing = slice.map((i) => i.itemId).filter((id) => !this.catalog.has(id));
      if (missing.length > 0) for (const [id, rec] of await readCatalogItems(this.redis, this.partition, missing)) this.catalog.set(id, rec);
      for (const i of slice) {
        const rec = this.catalog.get(i.itemId) ?? null;
        if (!rec?.deleted && satisfies(rec, this.where)) out.push(i);
        if (out.length >= need) break;
      }
    }
    return out;
  }
}

export class FeedService {
  readonly modelVersion: string;

  constructor(private readonly o: FeedServiceOptions) {
    this.modelVersion = o.modelVersion;
  }

  async feed(req: ValidFeedRequest): Promise<FeedOutcome> {
    const inputs = await readFeedInputs(this.o.redis, req.tenant, req.userId);
    if (!inputs.tenantKnown) {
      const community = this.o.community;
      if (community && req.tenant !== community.partition && (await community.isRegistered(req.tenant))) {
        // the caller's own exclusions apply; nothing of the caller's tenant is read, and the community is read-only
        // a user id of one tenant says nothing about a community user of the same id: only seed items steer the ANN rail
        const communityInputs = await readFeedInputs(this.o.redis, community.partition, req.userId);
        return this.railFeed(community.partition, req, { ...communityInputs, seen: new Set() }, await this.personal(community.partition, req, false), 'community');
      }
      return { status: 'unknown_tenant', field: 'tenant', error: `tenant ${JSON.stringify(req.tenant)} is not known` };
    }
    if (!inputs.userKnown) return { status: 'unknown_user', field: 'user', error: `user ${JSON.stringify(req.userId)} has no activity in tenant ${JSON.stringify(req.tenant)}` };
    return this.railFeed(req.tenant, req, inputs, await this.personal(req.tenant, req, true), null);
  }

  private async railFeed(partition: string, req: ValidFeedRequest, inputs: FeedInputs, personal: Personal | null, fallback: 'community' | null): Promise<FeedOutcome> {
    const filter = new ExactFilter(this.o.redis, partition, new Set([...inputs.seen, ...req.exclude, ...req.seedItems]), req.where);
    const asOf = inputs.latestEventMs ?? inputs.epochMs ?? 0;
    const epoch = inputs.epochMs ?? asOf;
    const decayed = (halfLifeMs: number) => (items: ScoredItem[]) => items.map((c) => ({ itemId: c.itemId, score: decayedScore(c.score, epoch, asOf, halfLifeMs) }));
    const shares = this.o.retrieval.shares;
    const index = personal ? this.o.indexes?.get(partition) ?? null : null;
    const [ann, popular, trending, fresh] = await Promise.all([
      personal ? this.widen(req, filter, (n) => this.annPool(personal, index, filter.blocked, n)) : [],
      shares.popular > 0 ? this.widen(req, filter, async (n) => decayed(this.o.halfLifeMs)(await readTopItems(this.o.redis, popularityKey(partition), n))) : [],
      shares.trending > 0 ? this.widen(req, filter, async (n) => decayed(this.o.trendingHalfLifeMs)(await readTopItems(this.o.redis, trendingKey(partition), n))) : [],
      shares.fresh > 0 ? this.widen(req, filter, (n) => this.freshPool(partition, asOf, n)) : [],
    ]);
    const rails: Rail[] = [
      { source: 'ann', items: ann, share: shares.ann },
      { source: 'popular', items: popular, share: shares.popular },
      { source: 'trending', items: trending, share: shares.trending },
      { source: 'fresh', items: fresh, share: shares.fresh },
    ];
    const items = mergeRails(rails, req.k);
    const personalised = personal !== null && items.some((i) => i.source === 'ann');
    const onlyAnn = personalised && items.every((i) => i.source === 'ann');
    return {
      status: 'ok',
      recommendationId: randomUUID(),
      items,
      modelVersion: onlyAnn ? personal.model.version : personalised ? `${personal.model.version}+${this.modelVersion}` : this.modelVersion,
      indexVersion: personalised ? (index?.manifest.version ?? EXACT_INDEX) : INDEX_VERSION,
      fallback,
    };
  }

  /**
   * A rail's first k items that pass the exact filters: fetches a pool of k plus what could be filtered, and doubles it
   * while too few pass, until the source runs dry or the pool reaches the configured bound.
   */
  private async widen(req: ValidFeedRequest, filter: ExactFilter, fetch: (n: number) => Promise<ScoredItem[]>): Promise<ScoredItem[]> {
    const max = this.o.retrieval.maxPool;
    let n = Math.min(max, req.k + filter.blocked.size + (hasConstraints(req.where) ? 4 * req.k : 0));
    for (;;) {
      const pool = await fetch(n);
      const kept = await filter.keep(pool, req.k);
      if (kept.length >= req.k || pool.length < n || n >= max) return kept;
      n = Math.min(max, n * 2);
    }
  }

  /** The n best items for the user's vector: from the partition's HNSW index when loaded, else scored exactly. */
  private async annPool(personal: Personal, index: ReturnType<IndexManager['get']>, blocked: ReadonlySet<string>, n: number): Promise<ScoredItem[]> {
    if (index) return index.nearest(personal.vector, n);
    const { model, vector } = personal;
    const excluded: number[] = [];
    for (const id of blocked) {
      const i = model.itemIndex.get(id);
      if (i !== undefined) excluded.push(i);
    }
    const scores = new Float64Array(model.nItems);
    return Array.from(recommendAls(model, vector, excluded, n, scores), (i) => ({ itemId: model.itemIds[i]!, score: scores[i]! }));
  }

  /** Items that entered the catalogue within freshMaxAge of the partition's latest event; score 1 when new, halving per half-life. */
  private async freshPool(partition: string, asOf: number, n: number): Promise<ScoredItem[]> {
    const items = await readFreshItems(this.o.redis, partition, n, asOf - this.o.freshMaxAgeMs);
    return items.map((i) => ({ itemId: i.itemId, score: Math.pow(2, -Math.max(0, asOf - i.score) / this.o.trendingHalfLifeMs) }));
  }

  /**
   * The ANN rail's query: the user's vector in the partition's current ALS model or, without one, the mean of the seed
   * items' vectors; null when there is neither (the other rails serve).
   */
  private async personal(partition: string, req: ValidFeedRequest, useUserVector: boolean): Promise<Personal | null> {
    if (!this.o.models) return null;
    let model: LoadedAls | null;
    try {
      model = await this.o.models.current(partition);
    } catch (err) {
      // A model that cannot be loaded (artifact missing or corrupt) degrades this partition to the other rails; it
      // must not fail requests, nor stall a feed-request partition shared with other tenants.
      this.o.logger?.error({ err, partition }, 'ALS model unavailable; serving without the ANN rail');
      return null;
    }
    if (!model) return null;
    const vector = useUserVector ? await this.o.models.userVector(partition, model.version, req.userId) : null;
    if (vector) return { model, vector };
    const f = model.factors;
    const mean = new Float64Array(f);
    let found = 0;
    for (const id of req.seedItems) {
      const i = model.itemIndex.get(id);
      if (i === undefined) continue;
      for (let d = 0; d < f; d++) mean[d]! += model.itemFactors[i * f + d]!;
      found++;
    }
    if (found === 0) return null;
    for (let d = 0; d < f; d++) mean[d]! /= found;
    return { model, vector: mean };
  }
}
