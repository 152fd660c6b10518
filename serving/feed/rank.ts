// Stage 3, ranking: the learned ranker orders the pool (every candidate scored in the same reference slot); the
// contexts it scored are logged for the items shown, so the trainer joins them with the clicks that follow. The items'
// recent feedback is a ranking feature, and Thompson sampling's evidence.
import { windowFieldNames } from '../../core/features/session-features.ts';
import type { RankingContext } from '../../core/funnel/ranking-features.ts';
import type { Candidate } from '../../core/funnel/retrieval.ts';
import type { Redis } from '../../platform/redis.ts';
import { itemCountersKey } from '../../state/keys.ts';
import type { FeedItem, FeedPlan, Personal } from './feed-context.ts';

/** An item's impressions and clicks over the last 7 days. */
export interface ItemFeedback {
  /** Times shown. */
  impression: number;
  /** Times clicked. */
  click: number;
}

/** The pool after stage 3, with what it was ranked on. */
export interface RankedPool {
  /** The pool: pins first, then by the ranker's score (the merge's order without a ranker). */
  pool: Candidate[];
  /** The items' feedback when ranking or Thompson sampling needed it, else null (read later, for the log). */
  feedback: Map<string, ItemFeedback> | null;
  /** Each pooled item's ranking features. */
  contexts: Map<string, RankingContext>;
}

/** The items' impressions and clicks over the last 7 days, one pipelined round trip reading only those buckets. */
export async function itemFeedback(
  redis: Redis,
  partition: string,
  itemIds: readonly string[],
  asOf: number,
): Promise<Map<string, ItemFeedback>> {
  const fields = windowFieldNames('7d', ['impression', 'click'], asOf);
  const half = fields.length / 2;
  const pipe = redis.pipeline();
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

function rankingContext(
  c: Candidate,
  poolRank: number,
  plan: FeedPlan,
  personal: Personal | null,
  feedback: ItemFeedback | undefined,
): RankingContext {
  const rec = plan.filter.record(c.itemId);
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
    ageHours: rec ? (plan.asOf - rec.createdAt) / 3_600_000 : null,
    alsScore,
    sessionEvents: plan.ctx.inputs.recent.length,
    ...(feedback ? { itemShows: feedback.impression, itemClicks: feedback.click } : {}),
  };
}

/** The pool ordered by the ranker (pins stay first), with the features it was scored on. */
export async function rankPool(
  redis: Redis,
  plan: FeedPlan,
  personal: Personal | null,
  merged: Candidate[],
): Promise<RankedPool> {
  const { ranker, asOf } = plan;
  let pool = merged;
  const withFeedback = ranker !== null || plan.rerank.exploration.kind === 'thompson';
  const feedback = withFeedback
    ? await itemFeedback(
        redis,
        plan.ctx.partition,
        pool.map((c) => c.itemId),
        asOf,
      )
    : null;
  const contexts = new Map(
    pool.map((c, poolRank) => [c.itemId, rankingContext(c, poolRank, plan, personal, feedback?.get(c.itemId))]),
  );
  if (ranker) {
    const p = new Map(pool.map((c) => [c.itemId, ranker.ranker.score(contexts.get(c.itemId)!)]));
    pool = pool
      .map((c) => ({ ...c, score: p.get(c.itemId)! }))
      .sort((a, b) => (a.source === 'pinned' ? -1 : b.source === 'pinned' ? 1 : b.score - a.score));
  }
  return { pool, feedback, contexts };
}

/** With explain=true and a ranker: each placed item's score and its first 12 non-zero feature contributions. */
export function withExplanations(plan: FeedPlan, ranked: RankedPool, placed: FeedItem[]): FeedItem[] {
  const { ranker } = plan;
  return plan.ctx.req.explain && ranker
    ? placed.map((i) => {
        const e = ranker.ranker.explain(ranked.contexts.get(i.itemId)!);
        return {
          ...i,
          explanation: { ...e, contributions: e.contributions.filter((c) => c.contribution !== 0).slice(0, 12) },
        };
      })
    : placed;
}
