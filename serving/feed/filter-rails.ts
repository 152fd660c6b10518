// Stage 2 over the rails: the first pools' catalogue records in one round trip, then each rail's first items that
// pass the exact filters, about its share of K, widening the rail's pool while the filters remove too much.
import type { ScoredItem } from '../../core/funnel/filters.ts';
import { RAILS, type RailName } from '../../core/funnel/retrieval.ts';
import { widen } from './exact-filter.ts';
import type { FeedPlan, FeedServiceOptions } from './feed-context.ts';
import type { RetrievedPools } from './retrieve.ts';

/** The rails' filtered items so far, and how to fill a rail further. */
export interface FilteredRails {
  /** Each rail's items that passed, in the rail's order. */
  found: Map<RailName, ScoredItem[]>;
  /** A rail's first n items that pass (empty for a rail that does not serve). */
  fill: (r: RailName, n: number) => Promise<ScoredItem[]>;
}

/** Each rail filtered to its first need(r) passing items. */
export async function filterRails(
  o: FeedServiceOptions,
  plan: FeedPlan,
  pools: RetrievedPools,
): Promise<FilteredRails> {
  const { filter, shares, K, need } = plan;
  const { fetchers, first } = pools;
  await filter.prefetch(
    RAILS.map((r) => first[r]),
    K,
  );

  const fill = (r: RailName, n: number) => {
    const f = fetchers[r];
    return f && shares[r] > 0 ? widen(o.retrieval.maxPool, n, filter, f.fetch, f.n0, first[r]) : Promise.resolve([]);
  };
  const found = new Map<RailName, ScoredItem[]>(
    await Promise.all(RAILS.map(async (r) => [r, await fill(r, need(r))] as const)),
  );
  return { found, fill };
}
