// Stage 1, retrieval: each rail's first pool of candidates. The Redis rails (popular, trending, fresh) are read in one
// pipeline together with the user's vector; the ANN rail then reads the partition's HNSW index (or scores exactly).
import type { ScoredItem } from '../../core/funnel/filters.ts';
import type { RailName } from '../../core/funnel/retrieval.ts';
import { decayedScore } from '../../core/features/popularity.ts';
import { recommendAls } from '../../core/models/als.ts';
import type { AlsModelStore, LoadedAls } from '../../state/als-models.ts';
import { queueTopUnseen, readTopUnseen, scoredPairs, type TopUnseenQuery } from '../../state/features.ts';
import { freshKey, popularityKey, seenKey, trendingKey } from '../../state/keys.ts';
import type { IndexManager } from '../index-manager.ts';
import type { FeedPlan, FeedServiceOptions, Personal } from './feed-context.ts';

/** A rail's source before the exact filters. */
export interface RailFetcher {
  /** The rail's n best items, scored. */
  fetch: (n: number) => Promise<ScoredItem[]>;
  /** The size of its first pool. */
  n0: number;
}

/** What retrieval's first round trips found. */
export interface RetrievedPools {
  /** The ANN rail's query, or null (the other rails serve). */
  personal: Personal | null;
  /** The partition's HNSW index the ANN rail reads; null when scored exactly, or without an ANN query. */
  index: ReturnType<IndexManager['get']>;
  /** Each rail's source; null for a rail without a share, and for ANN without a query. */
  fetchers: Record<RailName, RailFetcher | null>;
  /** Each rail's first pool (empty for a rail that does not serve). */
  first: Record<RailName, ScoredItem[]>;
}

type RedisRailName = Exclude<RailName, 'ann'>;

/** What every Redis rail skips inside Redis (TOP_UNSEEN). */
interface UnseenScan {
  /** The user's seen zset (a key that does not exist when nothing counts as seen). */
  seenKey: string;
  /** The request's exclusions and seed items. */
  exclude: string[];
}

/** Score 1 when just created, halving per trending half-life. */
function freshScores(o: FeedServiceOptions, items: ScoredItem[], asOf: number): ScoredItem[] {
  return items.map((i) => ({
    itemId: i.itemId,
    score: Math.pow(2, -Math.max(0, asOf - i.score) / o.trendingHalfLifeMs),
  }));
}

/** A Redis rail: its TOP_UNSEEN query for a pool of n, the scores of what it returns, and its first pool's size. */
function redisRail(o: FeedServiceOptions, plan: FeedPlan, scan: UnseenScan, r: RedisRailName) {
  const { partition } = plan.ctx;
  const { asOf, epoch, constrained } = plan;
  const maxPool = o.retrieval.maxPool;
  const decay = (items: ScoredItem[]) =>
    items.map((c) => ({
      itemId: c.itemId,
      score: decayedScore(c.score, epoch, asOf, r === 'popular' ? o.halfLifeMs : o.trendingHalfLifeMs),
    }));
  const query = (n: number): TopUnseenQuery =>
    r === 'fresh'
      ? {
          key: freshKey(partition),
          seenKey: scan.seenKey,
          exclude: scan.exclude,
          need: n,
          maxScan: maxPool,
          minScore: asOf - o.freshMaxAgeMs,
        }
      : {
          key: r === 'popular' ? popularityKey(partition) : trendingKey(partition),
          seenKey: scan.seenKey,
          exclude: scan.exclude,
          need: n,
          maxScan: maxPool,
        };
  const score = r === 'fresh' ? (items: ScoredItem[]) => freshScores(o, items, asOf) : decay;
  return {
    query,
    score,
    fetch: async (n: number) => score(await readTopUnseen(o.redis, query(n))),
    n0: Math.min(maxPool, (constrained ? 6 : 2) * plan.need(r) + 8),
  };
}

/**
 * The ANN rail's query: the user's vector in the partition's current ALS model or, without one, the mean of the seed
 * items' vectors (the request's, else the user's recent items); null when there is neither (the other rails serve).
 */
async function personalVector(
  models: AlsModelStore | null | undefined,
  model: LoadedAls | null,
  plan: FeedPlan,
): Promise<Personal | null> {
  const { partition, req, useUserVector } = plan.ctx;
  if (!model || !models) return null;
  const vector = useUserVector ? await models.userVector(partition, model.version, req.userId) : null;
  if (vector) return { model, vector };
  const f = model.factors;
  const mean = new Float64Array(f);
  let found = 0;
  for (const id of plan.sessionSeeds) {
    const i = model.itemIndex.get(id);
    if (i === undefined) continue;
    for (let d = 0; d < f; d++) mean[d]! += model.itemFactors[i * f + d]!;
    found++;
  }
  if (found === 0) return null;
  for (let d = 0; d < f; d++) mean[d]! /= found;
  return { model, vector: mean };
}

/** The n best items for the user's vector: from the partition's HNSW index when loaded, else scored exactly. */
async function annPool(
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

/**
 * Each rail's first pool. The Redis rails skip seen and excluded members inside Redis (TOP_UNSEEN), so their pools
 * only need headroom for the catalogue filters; the ANN pool is filtered here, so it needs k plus everything that
 * could be blocked.
 */
export async function retrieve(o: FeedServiceOptions, plan: FeedPlan): Promise<RetrievedPools> {
  const { partition, req, model, useUserVector } = plan.ctx;
  const { shares, filter, K, constrained } = plan;
  const maxPool = o.retrieval.maxPool;
  const seen = useUserVector ? seenKey(partition, req.userId) : seenKey(partition, ''); // no user id is empty: nothing seen
  const scan: UnseenScan = { seenKey: seen, exclude: [...req.exclude, ...req.seedItems] };
  const rails = {
    popular: redisRail(o, plan, scan, 'popular'),
    trending: redisRail(o, plan, scan, 'trending'),
    fresh: redisRail(o, plan, scan, 'fresh'),
  };
  const redisActive = (['popular', 'trending', 'fresh'] as const).filter((r) => shares[r] > 0);

  // Round trip 2: the user vector and the Redis rails' first pools together; round trip 3: the catalogue records.
  const pipe = o.redis.pipeline();
  for (const r of redisActive) queueTopUnseen(pipe, rails[r].query(rails[r].n0));
  const [personal, replies] = await Promise.all([
    personalVector(o.models, model, plan),
    redisActive.length > 0 ? pipe.exec() : Promise.resolve([]),
  ]);
  const index = personal ? (o.indexes?.get(partition) ?? null) : null;
  const annN0 = Math.min(maxPool, K + filter.blocked.size + (constrained ? 4 * K : 0));
  const fetchers: Record<RailName, RailFetcher | null> = {
    ann: personal ? { fetch: (n) => annPool(personal, index, filter.blocked, n), n0: annN0 } : null,
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
  return { personal, index, fetchers, first };
}
