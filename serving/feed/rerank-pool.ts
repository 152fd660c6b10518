// Stage 4, re-ranking: k items placed from the ranked pool (core/funnel/rerank.ts: diversity, category caps,
// freshness, business rules, exploration), with catalogue facts from the filter's look-ups.
import { attributeSimilarity, rerank, type RerankItem } from '../../core/funnel/rerank.ts';
import type { LoadedAls } from '../../state/als-models.ts';
import type { FeedItem, FeedPlan, Personal } from './feed-context.ts';
import type { RankedPool } from './rank.ts';

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

/** Stage 4 over the merged pool: catalogue facts from the filter's look-ups, click counts for Thompson sampling. */
async function reranked(plan: FeedPlan, ranked: RankedPool, personal: Personal | null): Promise<FeedItem[]> {
  const { pool, feedback } = ranked;
  const items: RerankItem[] = pool.map((c, rank) => {
    const rec = plan.filter.record(c.itemId);
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
  return rerank(items, plan.ctx.req.k, plan.rerank, Math.random, plan.asOf, similarity).map((p) => ({
    itemId: p.itemId,
    score: byId.get(p.itemId)!.score,
    source: byId.get(p.itemId)!.source,
    propensity: p.propensity,
  }));
}

/** The k placed items: the pool itself when it is k already (nothing to re-rank), else re-ranked from it. */
export async function rerankPool(plan: FeedPlan, ranked: RankedPool, personal: Personal | null): Promise<FeedItem[]> {
  return plan.K === plan.ctx.req.k
    ? ranked.pool.map((c) => ({ ...c, propensity: 1 }))
    : await reranked(plan, ranked, personal);
}
