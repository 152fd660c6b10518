// The funnel rows: how many candidates each retrieval source gives, the MMR trade-off, and how the lists are fused.

/** Candidates each retrieval source gives the funnel rows, and their MMR trade-off. */
export const FUNNEL_POOL = 100;
export const FUNNEL_MMR_LAMBDA = 0.85;

/**
 * Reciprocal rank fusion (Cormack et al. 2009): score(i) = Σ_sources 1 / (c + rank_source(i)), rank from 1. Needs no
 * score calibration across sources, which is what the funnel's retrieval sources lack.
 */
export function reciprocalRankFusion(lists: readonly ArrayLike<number>[], k: number, c = 60): Int32Array {
  const score = new Map<number, number>();
  for (const list of lists)
    for (let r = 0; r < list.length; r++) score.set(list[r]!, (score.get(list[r]!) ?? 0) + 1 / (c + r + 1));
  return Int32Array.from([...score].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k), ([item]) => item);
}
