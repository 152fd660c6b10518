// Stage 1 of the funnel: candidates from several sources ("rails") merged into one list. Each rail brings items in its
// own order; the merge interleaves them by share with smooth weighted round-robin (the nginx balancer's algorithm), so
// a rail with share 0.2 gets about every fifth slot, spread evenly rather than bunched, and a rail that runs dry
// leaves its slots to the others. An item a rail offers that an earlier pick already holds is skipped.
import type { ScoredItem } from './filters.ts';

export const RAILS = ['ann', 'popular', 'trending', 'fresh'] as const;
export type RailName = (typeof RAILS)[number];

export interface Candidate extends ScoredItem {
  /** The rail the item came from, or 'pinned' for an item a business rule put in (what the response reports). */
  source: RailName | 'pinned';
}

export interface Rail {
  source: RailName;
  items: readonly ScoredItem[];
  share: number;
}

export function mergeRails(rails: readonly Rail[], k: number): Candidate[] {
  const live = rails.filter((r) => r.share > 0 && r.items.length > 0).map((r) => ({ ...r, next: 0, credit: 0 }));
  const out: Candidate[] = [];
  const taken = new Set<string>();
  while (out.length < k && live.length > 0) {
    const total = live.reduce((s, r) => s + r.share, 0);
    let best = live[0]!;
    for (const r of live) {
      r.credit += r.share;
      if (r.credit > best.credit) best = r;
    }
    best.credit -= total;
    // the rail's next item not already taken
    while (best.next < best.items.length && taken.has(best.items[best.next]!.itemId)) best.next++;
    if (best.next < best.items.length) {
      const item = best.items[best.next++]!;
      taken.add(item.itemId);
      out.push({ itemId: item.itemId, score: item.score, source: best.source });
    }
    if (best.next >= best.items.length) live.splice(live.indexOf(best), 1);
  }
  return out;
}
