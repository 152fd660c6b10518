// Top-K ranking metrics with binary relevance. `ranked` is a recommendation list, best first; only its first k
// entries count. Each per-user metric is averaged over users by the caller.

/** Hits in the top k divided by k (a short list is not given credit for its missing slots). */
export function precisionAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  return hitsAtK(ranked, relevant, k) / k;
}

/** Hits in the top k divided by the number of relevant items. */
export function recallAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  return relevant.size === 0 ? 0 : hitsAtK(ranked, relevant, k) / relevant.size;
}

/** DCG with a log2(rank + 1) discount over the ideal DCG of min(|relevant|, k) hits at the top. */
export function ndcgAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  const n = Math.min(k, ranked.length);
  let dcg = 0;
  for (let r = 0; r < n; r++) if (relevant.has(ranked[r]!)) dcg += 1 / Math.log2(r + 2);
  let ideal = 0;
  for (let r = 0; r < Math.min(relevant.size, k); r++) ideal += 1 / Math.log2(r + 2);
  return ideal === 0 ? 0 : dcg / ideal;
}

/** Σ precision@rank over the ranks of hits, divided by min(|relevant|, k); its mean over users is MAP@k. */
export function averagePrecisionAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  const n = Math.min(k, ranked.length);
  let hits = 0;
  let sum = 0;
  for (let r = 0; r < n; r++) {
    if (relevant.has(ranked[r]!)) {
      hits++;
      sum += hits / (r + 1);
    }
  }
  const denominator = Math.min(relevant.size, k);
  return denominator === 0 ? 0 : sum / denominator;
}

/** 1 / rank of the first hit within the top k, 0 without one; its mean over users is MRR@k. */
export function reciprocalRankAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  const n = Math.min(k, ranked.length);
  for (let r = 0; r < n; r++) if (relevant.has(ranked[r]!)) return 1 / (r + 1);
  return 0;
}

/** Distinct items across every user's top k, as a share of the catalog. */
export function catalogCoverage(lists: readonly ArrayLike<number>[], k: number, catalogSize: number): number {
  const seen = new Set<number>();
  for (const list of lists) for (let r = 0; r < Math.min(k, list.length); r++) seen.add(list[r]!);
  return catalogSize === 0 ? 0 : seen.size / catalogSize;
}

/** Mean pairwise distance between the items of one top-k list; NaN for lists with fewer than two items. */
export function intraListDiversity(
  ranked: ArrayLike<number>,
  k: number,
  distance: (a: number, b: number) => number,
): number {
  const n = Math.min(k, ranked.length);
  if (n < 2) return NaN;
  let sum = 0;
  for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) sum += distance(ranked[a]!, ranked[b]!);
  return sum / ((n * (n - 1)) / 2);
}

function hitsAtK(ranked: ArrayLike<number>, relevant: ReadonlySet<number>, k: number): number {
  const n = Math.min(k, ranked.length);
  let hits = 0;
  for (let r = 0; r < n; r++) if (relevant.has(ranked[r]!)) hits++;
  return hits;
}
