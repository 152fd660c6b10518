// Computes a user's feed from the live state: stage 1 retrieves candidates from several rails (ANN over the user's ALS
// vector, popular, trending, fresh items), stage 2 filters them exactly (seen, excluded, deleted, hard attribute
// constraints), widening a rail's pool when the filters remove too much, and the rails are merged by share
// (core/funnel/retrieval.ts). Tenant isolation holds by construction: every rail reads only the caller's tenant's keys, model
// and index partition; a registered tenant without data is served from the read-only community partition, marked so.
import { randomUUID } from 'node:crypto';
import { hasConstraints, satisfies, type CatalogItem, type Constraints } from '../core/catalog.ts';
import type { Config } from '../config/config.ts';
import type { ScoredItem } from '../core/funnel/filters.ts';
import type { ValidFeedRequest } from '../core/funnel/feed-request.ts';
import { recommendAls } from '../core/models/als.ts';
import { decayedScore } from '../core/features/popularity.ts';
import { RAILS, mergeRails, type Candidate, type Rail, type RailName } from '../core/funnel/retrieval.ts';
import {
  attributeSimilarity,
  excludedByRules,
  rerank,
  type BusinessRules,
  type RerankConfig,
  type RerankItem,
} from '../core/funnel/rerank.ts';
import { windowFieldNames } from '../core/features/session-features.ts';
import { applyExperiments, type ServingSettings } from '../core/experiments/assignment.ts';
import type { ExperimentCache } from '../state/experiments.ts';
import type { RankerExplanation } from '../core/funnel/ranker.ts';
import type { RankingContext } from '../core/funnel/ranking-features.ts';
import type { RankerStore } from '../state/ranker-models.ts';
import type { Redis } from '../platform/redis.ts';
import type { Logger } from '../platform/logger.ts';
import type { AlsModelStore, LoadedAls } from '../state/als-models.ts';
import { catalogItemsKey, freshKey, readCatalogItems } from '../state/catalog.ts';
import type { IndexManager } from './index-manager.ts';
import {
  itemCountersKey,
  popularityKey,
  queueTopUnseen,
  readFeedInputs,
  readTopUnseen,
  scoredPairs,
  seenKey,
  trendingKey,
  type FeedInputs,
  type TopUnseenQuery,
} from '../state/features.ts';

export const INDEX_VERSION = 'redis-live';
/** indexVersion when ALS candidates were scored exhaustively (no HNSW index loaded for the tenant yet). */
export const EXACT_INDEX = 'exact';

/** A placed item: where it came from, and the probability the policy put it at its position (1 unless explored). */
export interface FeedItem extends Candidate {
  propensity: number;
  /** With explain=true and a ranker: its score and each feature's contribution to it (log-odds for FTRL). */
  explanation?: RankerExplanation;
}

export type FeedOutcome =
  | {
      status: 'ok';
      recommendationId: string;
      rankerVersion: string | null;
      items: FeedItem[];
      modelVersion: string;
      indexVersion: string;
      fallback: 'community' | null;
      experiments: Record<string, string>;
    }
  | { status: 'unknown_tenant'; field: 'tenant'; error: string };

export interface FeedServiceOptions {
  redis: Redis;
  /** The version reported for the non-personal rails. */
  modelVersion: string;
  halfLifeMs: number;
  trendingHalfLifeMs: number;
  freshMaxAgeMs: number;
  retrieval: Config['retrieval'];
  rerank: Config['rerank'];
  /** The tenants' A/B experiments; a user's variant overrides retrieval shares and re-ranking settings. */
  experiments?: ExperimentCache | null;
  /** Stage 3: the tenants' click models, and where served features are logged for training. */
  ranker?: RankerStore | null;
  /** How long served features stay for the trainer's join (the attribution window plus a margin). */
  servedLogTtlS?: number;
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
    /** Business exclusion rules act here too, so rails widen past what they remove. */
    private readonly rules: Pick<BusinessRules, 'exclude'>,
  ) {}

  private passes(rec: CatalogItem | null): boolean {
    return !rec?.deleted && satisfies(rec, this.where) && !(rec && excludedByRules(rec.attributes, this.rules));
  }

  /** The catalogue record looked up for an item (null: none, or not looked up). */
  record(itemId: string): CatalogItem | null {
    return this.catalog.get(itemId) ?? null;
  }

  /** Looks up, in one round trip, the records the first keep() of each pool will need (about 2·need open items each). */
  async prefetch(pools: readonly (readonly ScoredItem[])[], need: number): Promise<void> {
    const chunk = Math.max(32, 2 * need);
    const ids = new Set<string>();
    for (const pool of pools) {
      let taken = 0;
      for (const i of pool) {
        if (taken >= chunk) break;
        if (this.blocked.has(i.itemId)) continue;
        taken++;
        if (!this.catalog.has(i.itemId)) ids.add(i.itemId);
      }
    }
    if (ids.size > 0)
      for (const [id, rec] of await readCatalogItems(this.redis, this.partition, [...ids])) this.catalog.set(id, rec);
  }

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
      if (missing.length > 0)
        for (const [id, rec] of await readCatalogItems(this.redis, this.partition, missing)) this.catalog.set(id, rec);
      for (const i of slice) {
        if (this.passes(this.catalog.get(i.itemId) ?? null)) out.push(i);
        if (out.length >= need) break;
      }
    }
    return out;
  }
}

/** Whether re-ranking would leave the merged list as it is (then no larger pool is fetched). */
function isIdentityRerank(c: RerankConfig): boolean {
  return (
    c.mmrLambda >= 1 &&
    c.maxPerCategory === null &&
    c.freshnessBoost === 0 &&
    c.exploration.kind === 'none' &&
    c.rules.pin.length === 0 &&
    c.rules.boost.length === 0 &&
    c.rules.exclude.length === 0
  );
}

function mergeRules(base: BusinessRules, req: BusinessRules): BusinessRules {
  return {
    pin: [...req.pin, ...base.pin],
    boost: [...base.boost, ...req.boost],
    exclude: [...base.exclude, ...req.exclude],
  };
}

/**
 * Cosine of two items' ALS vectors, clipped to [0, 1]; attribute similarity for an item the model lacks. Unit vectors
 * are computed once per item per request (MMR compares every candidate with every pick).
 */
function alsSimilarity(model: LoadedAls): (a: RerankItem, b: RerankItem) => number {
  const f = model.factors;
  const unit = new Map<string, Float64Array | null>();
  const unitOf = (id: string): Float64Array | null => {
    let u = unit.get(id);
    if (u === undefined) {
      const i = model.itemIndex.get(id);
      u = null;
      if (i !== undefined) {
        const v = model.itemFactors.subarray(i * f, (i + 1) * f);
        let n = 0;
        for (let d = 0; d < f; d++) n += v[d]! * v[d]!;
        if (n > 0) u = Float64Array.from(v, (x) => x / Math.sqrt(n));
      }
      unit.set(id, u);
    }
    return u;
  };
  return (a, b) => {
    const x = unitOf(a.itemId);
    const y = unitOf(b.itemId);
    if (!x || !y) return attributeSimilarity(a, b);
    let dot = 0;
    for (let d = 0; d < f; d++) dot += x[d]! * y[d]!;
    return Math.max(0, dot);
  };
}

export class FeedService {
  readonly modelVersion: string;

  constructor(private readonly o: FeedServiceOptions) {
    this.modelVersion = o.modelVersion;
  }

  // Round trips are the latency here: the inputs and the model pointer are read together, the user vector together
  // with the Redis rails, then the catalogue records for the filters (widening adds more only when filters bite).
  async feed(req: ValidFeedRequest): Promise<FeedOutcome> {
    const [inputs, model] = await Promise.all([
      readFeedInputs(this.o.redis, req.tenant, req.userId),
      this.currentModel(req.tenant),
    ]);
    if (!inputs.tenantKnown) {
      const community = this.o.community;
      if (community && req.tenant !== community.partition && (await community.isRegistered(req.tenant))) {
        // the caller's own exclusions apply; nothing of the caller's tenant is read, and the community is read-only
        // a user id of one tenant says nothing about a community user of the same id: only seed items steer the ANN rail
        const [communityInputs, communityModel] = await Promise.all([
          readFeedInputs(this.o.redis, community.partition, req.userId),
          this.currentModel(community.partition),
        ]);
        return this.railFeed(
          community.partition,
          req,
          { ...communityInputs, seen: new Set() },
          communityModel,
          false,
          'community',
          await this.settingsFor(req),
        );
      }
      return { status: 'unknown_tenant', field: 'tenant', error: `tenant ${JSON.stringify(req.tenant)} is not known` };
    }
    // A user with no activity yet (cold start) is served too: popular, trending and fresh items, and the ANN rail near
    // their seed items; from their first events on, near their recent items, until fold-in gives them a vector.
    return this.railFeed(req.tenant, req, inputs, model, true, null, await this.settingsFor(req));
  }

  /** The serving settings for the caller's user under the caller's tenant's experiments (never another tenant's). */
  private async settingsFor(
    req: ValidFeedRequest,
  ): Promise<{ settings: ServingSettings; assignments: Record<string, string> }> {
    const base = { shares: this.o.retrieval.shares, rerank: this.o.rerank.config };
    if (!this.o.experiments) return { settings: base, assignments: {} };
    return applyExperiments(base, await this.o.experiments.active(req.tenant), req.userId);
  }

  private async railFeed(
    partition: string,
    req: ValidFeedRequest,
    inputs: FeedInputs,
    model: LoadedAls | null,
    useUserVector: boolean,
    fallback: 'community' | null,
    served: { settings: ServingSettings; assignments: Record<string, string> },
  ): Promise<FeedOutcome> {
    const rules = mergeRules(served.settings.rerank.rules, req.rules);
    const filter = new ExactFilter(
      this.o.redis,
      partition,
      new Set([...inputs.seen, ...req.exclude, ...req.seedItems]),
      req.where,
      rules,
    );
    const asOf = inputs.latestEventMs ?? inputs.epochMs ?? 0;
    const epoch = inputs.epochMs ?? asOf;
    const shares = served.settings.shares;
    const maxPool = this.o.retrieval.maxPool;
    const constrained = hasConstraints(req.where) || req.rules.exclude.length > 0;
    // Each rail fills about its share of k first (widening a rail to k would cost round trips for slots it never
    // gets); if the merge comes up short, the rails that stopped at their share go on to k.
    const annLikely = model !== null && (useUserVector || req.seedItems.length > 0);
    const sessionSeeds = req.seedItems.length > 0 ? req.seedItems : useUserVector ? inputs.recent : [];
    const active = RAILS.filter((r) => shares[r] > 0 && (r !== 'ann' || annLikely));
    const total = active.reduce((sum, r) => sum + shares[r], 0);
    // Re-ranking picks k from a larger pool; without any re-ranking to do, the pool is the feed.
    const rr: RerankConfig = { ...served.settings.rerank, rules };
    const ranker = this.o.ranker ? await this.o.ranker.current(partition, served.settings.ranker) : null;
    const K = isIdentityRerank(rr) && !ranker ? req.k : req.k * this.o.rerank.poolFactor;
    const need = (r: RailName) => Math.min(K, Math.ceil((K * shares[r]) / total) + 2);

    // The Redis rails skip seen and excluded members inside Redis (TOP_UNSEEN), so their pools only need headroom for
    // the catalogue filters; the ANN pool is filtered here, so it needs k plus everything that could be blocked.
    const seen = useUserVector ? seenKey(partition, req.userId) : seenKey(partition, ''); // no user id is empty: nothing seen
    const exclude = [...req.exclude, ...req.seedItems];
    const redisRail = (r: Exclude<RailName, 'ann'>) => {
      const decay = (items: ScoredItem[]) =>
        items.map((c) => ({
          itemId: c.itemId,
          score: decayedScore(c.score, epoch, asOf, r === 'popular' ? this.o.halfLifeMs : this.o.trendingHalfLifeMs),
        }));
      const query = (n: number): TopUnseenQuery =>
        r === 'fresh'
          ? {
              key: freshKey(partition),
              seenKey: seen,
              exclude,
              need: n,
              maxScan: maxPool,
              minScore: asOf - this.o.freshMaxAgeMs,
            }
          : {
              key: r === 'popular' ? popularityKey(partition) : trendingKey(partition),
              seenKey: seen,
              exclude,
              need: n,
              maxScan: maxPool,
            };
      const score = r === 'fresh' ? (items: ScoredItem[]) => this.freshScores(items, asOf) : decay;
      return {
        query,
        score,
        fetch: async (n: number) => score(await readTopUnseen(this.o.redis, query(n))),
        n0: Math.min(maxPool, (constrained ? 6 : 2) * need(r) + 8),
      };
    };
    const rails = { popular: redisRail('popular'), trending: redisRail('trending'), fresh: redisRail('fresh') };
    const redisActive = (['popular', 'trending', 'fresh'] as const).filter((r) => shares[r] > 0);

    // Round trip 2: the user vector and the Redis rails' first pools together; round trip 3: the catalogue records.
    const pipe = this.o.redis.pipeline();
    for (const r of redisActive) queueTopUnseen(pipe, rails[r].query(rails[r].n0));
    const [personal, replies] = await Promise.all([
      this.personal(model, partition, req.userId, useUserVector, sessionSeeds),
      redisActive.length > 0 ? pipe.exec() : Promise.resolve([]),
    ]);
    const index = personal ? (this.o.indexes?.get(partition) ?? null) : null;
    const annN0 = Math.min(maxPool, K + filter.blocked.size + (constrained ? 4 * K : 0));
    const fetchers: Record<RailName, { fetch: (n: number) => Promise<ScoredItem[]>; n0: number } | null> = {
      ann: personal ? { fetch: (n) => this.annPool(personal, index, filter.blocked, n), n0: annN0 } : null,
      popular: shares.popular > 0 ? rails.popular : null,
      trending: shares.trending > 0 ? rails.trending : null,
      fresh: shares.fresh > 0 ? rails.fresh : null,
    };
    const first: Record<RailName, ScoredItem[]> = {
      ann: fetchers.ann ? await fetchers.ann.fetch(annN0) : [],
      popular: [],
      trending: [],
      fresh: [],
    };
    redisActive.forEach((r, i) => {
      const [err, reply] = replies![i]!;
      if (err) throw err;
      first[r] = rails[r].score(scoredPairs(reply as string[]));
    });
    await filter.prefetch(
      RAILS.map((r) => first[r]),
      K,
    );

    const fill = (r: RailName, n: number) => {
      const f = fetchers[r];
      return f && shares[r] > 0 ? this.widen(n, filter, f.fetch, f.n0, first[r]) : Promise.resolve([]);
    };
    const found = new Map<RailName, ScoredItem[]>(
      await Promise.all(RAILS.map(async (r) => [r, await fill(r, need(r))] as const)),
    );
    const railsOf = (): Rail[] => RAILS.map((source) => ({ source, items: found.get(source)!, share: shares[source] }));
    let pool = mergeRails(railsOf(), K);
    if (pool.length < K) {
      const capped = RAILS.filter(
        (r) => fetchers[r] && shares[r] > 0 && found.get(r)!.length === need(r) && need(r) < K,
      );
      // each stopped rail goes on by the shortfall (any of them may cover it), not all the way to K
      const short = K - pool.length;
      for (const [r, more] of await Promise.all(
        capped.map(async (r) => [r, await fill(r, Math.min(K, need(r) + short))] as const),
      ))
        found.set(r, more);
      if (capped.length > 0) pool = mergeRails(railsOf(), K);
    }
    if (rules.pin.length > 0) {
      // pinned items enter the pool whatever the rails found, if they pass the exact filters like everything else; a
      // tenant with a catalogue only gets pins of its own items back (no echo of an id it does not know)
      const kept = await filter.keep(
        rules.pin.map((itemId) => ({ itemId, score: 0 })),
        rules.pin.length,
      );
      const hasCatalogue =
        kept.length > 0 && kept.some((p) => filter.record(p.itemId) === null)
          ? (await this.o.redis.hlen(catalogItemsKey(partition))) > 0
          : false;
      const pins = hasCatalogue ? kept.filter((p) => filter.record(p.itemId) !== null) : kept;
      const pinned = new Set(pins.map((p) => p.itemId));
      pool = [
        ...pins.map((p): Candidate => ({ ...p, source: 'pinned' })),
        ...pool.filter((c) => !pinned.has(c.itemId)),
      ];
    }
    // Stage 3: the learned ranker orders the pool (every candidate scored in the same reference slot); the contexts
    // it scored are logged for the items shown, so the trainer joins them with the clicks that follow. The items'
    // recent feedback is a ranking feature, and Thompson sampling's evidence.
    const withFeedback = ranker !== null || rr.exploration.kind === 'thompson';
    const feedback = withFeedback
      ? await this.itemFeedback(
          partition,
          pool.map((c) => c.itemId),
          asOf,
        )
      : null;
    const contexts = new Map(
      pool.map((c, poolRank) => [
        c.itemId,
        this.rankingContext(c, poolRank, filter, asOf, personal, inputs.recent.length, feedback?.get(c.itemId)),
      ]),
    );
    if (ranker) {
      const p = new Map(pool.map((c) => [c.itemId, ranker.ranker.score(contexts.get(c.itemId)!)]));
      pool = pool
        .map((c) => ({ ...c, score: p.get(c.itemId)! }))
        .sort((a, b) => (a.source === 'pinned' ? -1 : b.source === 'pinned' ? 1 : b.score - a.score));
    }
    const placed =
      K === req.k
        ? pool.map((c) => ({ ...c, propensity: 1 }))
        : await this.reranked(pool, req.k, rr, filter, asOf, personal, feedback);
    const items: FeedItem[] =
      req.explain && ranker
        ? placed.map((i) => {
            const e = ranker.ranker.explain(contexts.get(i.itemId)!);
            return {
              ...i,
              explanation: { ...e, contributions: e.contributions.filter((c) => c.contribution !== 0).slice(0, 12) },
            };
          })
        : placed;
    const recommendationId = randomUUID();
    if (this.o.ranker) {
      const shown = items.flatMap((i) =>
        contexts.has(i.itemId) ? [[i.itemId, contexts.get(i.itemId)!] as const] : [],
      );
      this.logServed(partition, recommendationId, shown, feedback !== null, asOf).catch((err: unknown) =>
        this.o.logger?.warn(
          { err, partition },
          'logging served features failed; these impressions will not train the ranker',
        ),
      );
    }
    const personalised = personal !== null && items.some((i) => i.source === 'ann');
    const onlyAnn = personalised && items.every((i) => i.source === 'ann');
    return {
      status: 'ok',
      recommendationId,
      rankerVersion: ranker?.version ?? null,
      items,
      modelVersion: onlyAnn
        ? personal.model.version
        : personalised
          ? `${personal.model.version}+${this.modelVersion}`
          : this.modelVersion,
      indexVersion: personalised ? (index?.manifest.version ?? EXACT_INDEX) : INDEX_VERSION,
      fallback,
      experiments: served.assignments,
    };
  }

  /** The items' impressions and clicks over the last 7 days, one pipelined round trip reading only those buckets. */
  private async itemFeedback(
    partition: string,
    itemIds: readonly string[],
    asOf: number,
  ): Promise<Map<string, { impression: number; click: number }>> {
    const fields = windowFieldNames('7d', ['impression', 'click'], asOf);
    const half = fields.length / 2;
    const pipe = this.o.redis.pipeline();
    for (const id of itemIds) pipe.hmget(itemCountersKey(partition, id), ...fields);
    const replies = (await pipe.exec()) ?? [];
    return new Map(
      replies.map(([err, values], i) => {
        if (err) throw err;
        let impression = 0;
        let click = 0;
        (values as (string | null)[]).forEach((v, k) => {
          if (v === null) return;
          if (k < half) impression += Number(v);
          else click += Number(v);
        });
        return [itemIds[i]!, { impression, click }] as const;
      }),
    );
  }

  /** Off the response path: the shown items' contexts, with their feedback read now if ranking did not need it. */
  private async logServed(
    partition: string,
    recommendationId: string,
    shown: (readonly [string, RankingContext])[],
    hasFeedback: boolean,
    asOf: number,
  ): Promise<void> {
    let contexts = shown;
    if (!hasFeedback && shown.length > 0) {
      const feedback = await this.itemFeedback(
        partition,
        shown.map(([id]) => id),
        asOf,
      );
      contexts = shown.map(
        ([id, ctx]) =>
          [
            id,
            { ...ctx, itemShows: feedback.get(id)?.impression ?? 0, itemClicks: feedback.get(id)?.click ?? 0 },
          ] as const,
      );
    }
    await this.o.ranker!.logServed(partition, recommendationId, new Map(contexts), this.o.servedLogTtlS ?? 7200);
  }

  private rankingContext(
    c: Candidate,
    poolRank: number,
    filter: ExactFilter,
    asOf: number,
    personal: Personal | null,
    recentItems: number,
    feedback: { impression: number; click: number } | undefined,
  ): RankingContext {
    const rec = filter.record(c.itemId);
    let alsScore: number | null = null;
    if (personal) {
      const i = personal.model.itemIndex.get(c.itemId);
      if (i !== undefined) {
        const f = personal.model.factors;
        alsScore = 0;
        for (let d = 0; d < f; d++) alsScore += personal.vector[d]! * personal.model.itemFactors[i * f + d]!;
      }
    }
    return {
      source: c.source,
      poolRank,
      itemId: c.itemId,
      category: rec?.attributes.category?.[0] ?? null,
      ageHours: rec ? (asOf - rec.createdAt) / 3_600_000 : null,
      alsScore,
      sessionEvents: recentItems,
      ...(feedback ? { itemShows: feedback.impression, itemClicks: feedback.click } : {}),
    };
  }

  /** Stage 4 over the merged pool: catalogue facts from the filter's look-ups, click counts for Thompson sampling. */
  private async reranked(
    pool: Candidate[],
    k: number,
    cfg: RerankConfig,
    filter: ExactFilter,
    asOf: number,
    personal: Personal | null,
    feedback: ReadonlyMap<string, { impression: number; click: number }> | null,
  ): Promise<FeedItem[]> {
    const items: RerankItem[] = pool.map((c, rank) => {
      const rec = filter.record(c.itemId);
      return {
        itemId: c.itemId,
        rank,
        source: c.source,
        category: rec?.attributes.category?.[0] ?? null,
        attributes: rec?.attributes ?? {},
        createdAt: rec?.createdAt ?? null,
        shows: feedback?.get(c.itemId)?.impression ?? 0,
        clicks: feedback?.get(c.itemId)?.click ?? 0,
      };
    });
    const byId = new Map(pool.map((c) => [c.itemId, c]));
    const similarity = personal ? alsSimilarity(personal.model) : attributeSimilarity;
    return rerank(items, k, cfg, Math.random, asOf, similarity).map((p) => ({
      itemId: p.itemId,
      score: byId.get(p.itemId)!.score,
      source: byId.get(p.itemId)!.source,
      propensity: p.propensity,
    }));
  }

  /**
   * A rail's first `need` items that pass the exact filters: starts from its first pool of n0 and doubles the pool
   * while too few pass, until the source runs dry or the pool reaches the configured bound.
   */
  private async widen(
    need: number,
    filter: ExactFilter,
    fetch: (n: number) => Promise<ScoredItem[]>,
    n0: number,
    firstPool: ScoredItem[],
  ): Promise<ScoredItem[]> {
    const max = this.o.retrieval.maxPool;
    let n = n0;
    let pool = firstPool;
    for (;;) {
      const kept = await filter.keep(pool, need);
      if (kept.length >= need || pool.length < n || n >= max) return kept;
      n = Math.min(max, n * 2);
      pool = await fetch(n);
    }
  }

  /** The n best items for the user's vector: from the partition's HNSW index when loaded, else scored exactly. */
  private async annPool(
    personal: Personal,
    index: ReturnType<IndexManager['get']>,
    blocked: ReadonlySet<string>,
    n: number,
  ): Promise<ScoredItem[]> {
    if (index) return index.nearest(personal.vector, n);
    const { model, vector } = personal;
    const excluded: number[] = [];
    for (const id of blocked) {
      const i = model.itemIndex.get(id);
      if (i !== undefined) excluded.push(i);
    }
    const scores = new Float64Array(model.nItems);
    return Array.from(recommendAls(model, vector, excluded, n, scores), (i) => ({
      itemId: model.itemIds[i]!,
      score: scores[i]!,
    }));
  }

  /** Score 1 when just created, halving per trending half-life. */
  private freshScores(items: ScoredItem[], asOf: number): ScoredItem[] {
    return items.map((i) => ({
      itemId: i.itemId,
      score: Math.pow(2, -Math.max(0, asOf - i.score) / this.o.trendingHalfLifeMs),
    }));
  }

  /** The partition's current ALS model, or null without one (or when it cannot be loaded). */
  private async currentModel(partition: string): Promise<LoadedAls | null> {
    if (!this.o.models) return null;
    try {
      return await this.o.models.current(partition);
    } catch (err) {
      // A model that cannot be loaded (artifact missing or corrupt) degrades this partition to the other rails; it
      // must not fail requests, nor stall a feed-request partition shared with other tenants.
      this.o.logger?.error({ err, partition }, 'ALS model unavailable; serving without the ANN rail');
      return null;
    }
  }

  /**
   * The ANN rail's query: the user's vector in the partition's current ALS model or, without one, the mean of the seed
   * items' vectors (the request's, else the user's recent items); null when there is neither (the other rails serve).
   */
  private async personal(
    model: LoadedAls | null,
    partition: string,
    userId: string,
    useUserVector: boolean,
    seeds: readonly string[],
  ): Promise<Personal | null> {
    if (!model || !this.o.models) return null;
    const vector = useUserVector ? await this.o.models.userVector(partition, model.version, userId) : null;
    if (vector) return { model, vector };
    const f = model.factors;
    const mean = new Float64Array(f);
    let found = 0;
    for (const id of seeds) {
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
