// A feed's plan, fixed before retrieval's first round trip: the business rules (the settings' and the request's), the
// exact filter, the clock the scores decay to, each rail's share and first fill, the ranker and the pool size K.
import { hasConstraints } from '../../core/catalog.ts';
import type { BusinessRules, RerankConfig } from '../../core/funnel/rerank.ts';
import { RAILS, type RailName } from '../../core/funnel/retrieval.ts';
import { ExactFilter } from './exact-filter.ts';
import type { FeedContext, FeedPlan, FeedServiceOptions } from './feed-context.ts';

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

/** The plan of one feed; the only round trip is the ranker's (cached by the ranker store). */
export async function planFeed(o: FeedServiceOptions, ctx: FeedContext): Promise<FeedPlan> {
  const { partition, req, inputs, model, useUserVector, served } = ctx;
  const rules = mergeRules(served.settings.rerank.rules, req.rules);
  const filter = new ExactFilter(
    o.redis,
    partition,
    new Set([...inputs.seen, ...req.exclude, ...req.seedItems]),
    req.where,
    rules,
  );
  const asOf = inputs.latestEventMs ?? inputs.epochMs ?? 0;
  const epoch = inputs.epochMs ?? asOf;
  const shares = served.settings.shares;
  const constrained = hasConstraints(req.where) || req.rules.exclude.length > 0;
  // Each rail fills about its share of k first (widening a rail to k would cost round trips for slots it never
  // gets); if the merge comes up short, the rails that stopped at their share go on to k.
  const annLikely = model !== null && (useUserVector || req.seedItems.length > 0);
  const sessionSeeds = req.seedItems.length > 0 ? req.seedItems : useUserVector ? inputs.recent : [];
  const active = RAILS.filter((r) => shares[r] > 0 && (r !== 'ann' || annLikely));
  const total = active.reduce((sum, r) => sum + shares[r], 0);
  // Re-ranking picks k from a larger pool; without any re-ranking to do, the pool is the feed.
  const rr: RerankConfig = { ...served.settings.rerank, rules };
  const ranker = o.ranker ? await o.ranker.current(partition, served.settings.ranker) : null;
  const K = isIdentityRerank(rr) && !ranker ? req.k : req.k * o.rerank.poolFactor;
  const need = (r: RailName) => Math.min(K, Math.ceil((K * shares[r]) / total) + 2);
  return { ctx, rules, filter, asOf, epoch, shares, constrained, sessionSeeds, rerank: rr, ranker, K, need };
}
