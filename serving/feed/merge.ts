// The rails merged by share into a pool of K (core/funnel/retrieval.ts); when the merge comes up short, the rails
// that stopped at their share go on by the shortfall.
import { RAILS, mergeRails, type Candidate, type Rail } from '../../core/funnel/retrieval.ts';
import type { FeedPlan } from './feed-context.ts';
import type { FilteredRails } from './filter-rails.ts';
import type { RetrievedPools } from './retrieve.ts';

/** The merged pool of at most K candidates. */
export async function mergeFiltered(plan: FeedPlan, pools: RetrievedPools, rails: FilteredRails): Promise<Candidate[]> {
  const { shares, K, need } = plan;
  const { fetchers } = pools;
  const { found, fill } = rails;
  const railsOf = (): Rail[] => RAILS.map((source) => ({ source, items: found.get(source)!, share: shares[source] }));
  let pool = mergeRails(railsOf(), K);
  if (pool.length < K) {
    const capped = RAILS.filter((r) => fetchers[r] && shares[r] > 0 && found.get(r)!.length === need(r) && need(r) < K);
    // each stopped rail goes on by the shortfall (any of them may cover it), not all the way to K
    const short = K - pool.length;
    for (const [r, more] of await Promise.all(
      capped.map(async (r) => [r, await fill(r, Math.min(K, need(r) + short))] as const),
    ))
      found.set(r, more);
    if (capped.length > 0) pool = mergeRails(railsOf(), K);
  }
  return pool;
}
