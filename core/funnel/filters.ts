// Turns a popularity-ordered candidate list into a user's feed: drop what they have seen or asked to exclude,
// keep the top k. The candidate list is already restricted to the caller's tenant by the store.

export interface ScoredItem {
  itemId: string;
  score: number;
}

export interface FeedQuery {
  k: number;
  seen: ReadonlySet<string>;
  exclude: ReadonlySet<string>;
}

/** How many candidates to fetch so that k remain after filtering, in the worst case. */
export function candidatePoolSize(query: FeedQuery): number {
  return query.k + query.seen.size + query.exclude.size;
}

/** Candidates must be in descending score order; ties keep their order. */
export function rankFeed(candidates: readonly ScoredItem[], query: FeedQuery): ScoredItem[] {
  const out: ScoredItem[] = [];
  for (const c of candidates) {
    if (out.length >= query.k) break;
    if (query.seen.has(c.itemId) || query.exclude.has(c.itemId)) continue;
    out.push(c);
  }
  return out;
}
