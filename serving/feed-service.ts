// Computes a user's feed from the live Redis state. With a trained ALS model and a vector for the user: the model's
// exact top items (every item scored), topped up with popular items if filtering left fewer than k; otherwise the
// tenant's time-decayed popularity. Both minus what the user has seen or excluded. Tenant isolation holds by
// construction: candidates come only from the tenant's keys and the tenant's model.
import { randomUUID } from 'node:crypto';
import { candidatePoolSize, rankFeed, type FeedQuery, type ScoredItem } from '../core/feed.ts';
import type { ValidFeedRequest } from '../core/feed-request.ts';
import { recommendAls } from '../core/models/als.ts';
import { decayedScore } from '../core/popularity.ts';
import type { Redis } from '../platform/redis.ts';
import type { Logger } from '../platform/logger.ts';
import type { AlsModelStore, LoadedAls } from '../processors/als-model-store.ts';
import type { IndexManager } from './index/index-manager.ts';
import { popularityKey, readFeedInputs, readTopItems } from '../processors/feature-store.ts';

export const INDEX_VERSION = 'redis-live';
/** indexVersion when ALS candidates were scored exhaustively (no HNSW index loaded for the tenant yet). */
export const EXACT_INDEX = 'exact';

export type FeedOutcome =
  | { status: 'ok'; recommendationId: string; items: ScoredItem[]; modelVersion: string; indexVersion: string; fallback: 'community' | null }
  | { status: 'unknown_tenant' | 'unknown_user'; field: 'tenant' | 'user'; error: string };

export class FeedService {
  constructor(
    private readonly redis: Redis,
    private readonly halfLifeMs: number,
    readonly modelVersion: string,
    private readonly models: AlsModelStore | null = null,
    private readonly indexes: IndexManager | null = null,
    /** The read-only partition served to a registered tenant that has no data yet. */
    private readonly community: { partition: string; isRegistered: (tenant: string) => Promise<boolean> } | null = null,
    private readonly logger: Logger | null = null,
  ) {}

  async feed(req: ValidFeedRequest): Promise<FeedOutcome> {
    const inputs = await readFeedInputs(this.redis, req.tenant, req.userId);
    if (!inputs.tenantKnown) {
      if (this.community && req.tenant !== this.community.partition && (await this.community.isRegistered(req.tenant))) return this.communityFeed(req);
      return { status: 'unknown_tenant', field: 'tenant', error: `tenant ${JSON.stringify(req.tenant)} is not known` };
    }
    if (!inputs.userKnown) return { status: 'unknown_user', field: 'user', error: `user ${JSON.stringify(req.userId)} has no activity in tenant ${JSON.stringify(req.tenant)}` };
    const query = { k: req.k, seen: inputs.seen, exclude: new Set(req.exclude) };
    const personal = await this.alsItems(req, query);
    if (personal && personal.items.length >= req.k) return { status: 'ok', recommendationId: randomUUID(), items: personal.items, modelVersion: personal.version, indexVersion: personal.indexVersion, fallback: null };
    const popular = await this.popularItems(req.tenant, inputs, { ...query, exclude: new Set([...query.exclude, ...(personal?.items ?? []).map((i) => i.itemId)]) });
    if (personal && personal.items.length > 0) {
      return { status: 'ok', recommendationId: randomUUID(), items: [...personal.items, ...popular.slice(0, req.k - personal.items.length)], modelVersion: `${personal.version}+${this.modelVersion}`, indexVersion: personal.indexVersion, fallback: null };
    }
    return { status: 'ok', recommendationId: randomUUID(), items: popular, modelVersion: this.modelVersion, indexVersion: INDEX_VERSION, fallback: null };
  }

  /** A new tenant's feed: the community partition's popular items, marked as a fallback. */
  private async communityFeed(req: ValidFeedRequest): Promise<FeedOutcome> {
    const partition = this.community!.partition;
    const inputs = await readFeedInputs(this.redis, partition, req.userId);
    const items = await this.popularItems(partition, inputs, { k: req.k, seen: new Set(), exclude: new Set(req.exclude) });
    return { status: 'ok', recommendationId: randomUUID(), items, modelVersion: this.modelVersion, indexVersion: INDEX_VERSION, fallback: 'community' };
  }

  private async popularItems(tenant: string, inputs: { epochMs: number | null; latestEventMs: number | null }, query: FeedQuery): Promise<ScoredItem[]> {
    const candidates = await readTopItems(this.redis, popularityKey(tenant), candidatePoolSize(query));
    const asOf = inputs.latestEventMs ?? inputs.epochMs ?? 0;
    const epoch = inputs.epochMs ?? asOf;
    return rankFeed(candidates, query).map((c) => ({ itemId: c.itemId, score: decayedScore(c.score, epoch, asOf, this.halfLifeMs) }));
  }

  /**
   * The ALS model's top items for the user, or null without a model or a vector for them: from the tenant's HNSW
   * index when one is loaded (only ever the caller's tenant's partition), else by scoring every item exactly.
   */
  private async alsItems(req: ValidFeedRequest, query: FeedQuery): Promise<{ version: string; indexVersion: string; items: ScoredItem[] } | null> {
    if (!this.models) return null;
    let model: LoadedAls | null;
    try {
      model = await this.models.current(req.tenant);
    } catch (err) {
      // A model that cannot be loaded (artifact missing or corrupt) degrades this tenant to popularity; it must not
      // fail requests, nor stall a feed-request partition shared with other tenants.
      this.logger?.error({ err, tenant: req.tenant }, 'ALS model unavailable; serving popularity');
      return null;
    }
    if (!model) return null;
    const vector = await this.models.userVector(req.tenant, model.version, req.userId);
    if (!vector) return null;
    const index = this.indexes?.get(req.tenant);
    if (index) {
      const items = index.search(vector, req.k, new Set([...query.seen, ...query.exclude]));
      return { version: model.version, indexVersion: index.manifest.version, items };
    }
    const excluded: number[] = [];
    for (const id of [...query.seen, ...query.exclude]) {
      const i = model.itemIndex.get(id);
      if (i !== undefined) excluded.push(i);
    }
    const scores = new Float64Array(model.nItems);
    const top = recommendAls(model, vector, excluded, req.k, scores);
    const items: ScoredItem[] = [];
    for (const i of top) items.push({ itemId: model.itemIds[i]!, score: scores[i]! });
    return { version: model.version, indexVersion: EXACT_INDEX, items };
  }
}
