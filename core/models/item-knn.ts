// Item-based k-nearest-neighbours (Sarwar et al. 2001; Deshpande & Karypis 2004): cosine similarity between item
// columns of X, sim(i, j) = xᵢ·xⱼ / (|xᵢ||xⱼ| + shrinkage), keeping each item's top `neighbours`. A user's score for
// item j is Σ over their items i of weight(u, i)·sim(i, j). Shrinkage damps similarities resting on few co-raters.
import { transpose, type SparseMatrix } from '../math/sparse.ts';
import { topKExcluding } from '../math/top-k.ts';

export interface ItemKnnParams {
  neighbours: number;
  shrinkage: number;
}

export const DEFAULT_ITEM_KNN_PARAMS: ItemKnnParams = { neighbours: 200, shrinkage: 100 };

/** Each item's neighbours as CSR rows: item i's neighbours are neighbours[indptr[i] .. indptr[i + 1]). */
export interface ItemKnnModel {
  nItems: number;
  indptr: Int32Array;
  neighbours: Int32Array;
  similarities: Float64Array;
}

/** Fits on X (users × items, non-negative weights). Cost Σᵤ|Iᵤ|² for the co-occurrences. */
export function trainItemKnn(X: SparseMatrix, params: ItemKnnParams): ItemKnnModel {
  const nItems = X.nCols;
  const Xt = transpose(X);
  const norms = new Float64Array(nItems);
  for (let i = 0; i < nItems; i++) {
    let s = 0;
    for (let k = Xt.indptr[i]!; k < Xt.indptr[i + 1]!; k++) s += Xt.values[k]! * Xt.values[k]!;
    norms[i] = Math.sqrt(s);
  }
  const acc = new Float64Array(nItems);
  const touched = new Int32Array(nItems);
  // mark[j] === i + 1 once j co-occurs with item i (an exact-zero sum must not list j twice).
  const mark = new Int32Array(nItems);
  const candidateSims = new Float64Array(nItems);
  const indptr = new Int32Array(nItems + 1);
  const rows: Int32Array[] = [];
  const rowSims: Float64Array[] = [];
  let total = 0;
  for (let i = 0; i < nItems; i++) {
    let nTouched = 0;
    for (let k = Xt.indptr[i]!; k < Xt.indptr[i + 1]!; k++) {
      const u = Xt.indices[k]!;
      const w = Xt.values[k]!;
      for (let q = X.indptr[u]!; q < X.indptr[u + 1]!; q++) {
        const j = X.indices[q]!;
        if (j === i) continue;
        if (mark[j] !== i + 1) {
          mark[j] = i + 1;
          touched[nTouched++] = j;
        }
        acc[j]! += w * X.values[q]!;
      }
    }
    // Cosine over the co-occurring items only; reset the accumulator as we go.
    for (let t = 0; t < nTouched; t++) {
      const j = touched[t]!;
      candidateSims[t] = acc[j]! / (norms[i]! * norms[j]! + params.shrinkage);
      acc[j] = 0;
    }
    const best = topKExcluding(candidateSims.subarray(0, nTouched), params.neighbours, []);
    const ids = new Int32Array(best.length);
    const sims = new Float64Array(best.length);
    for (let b = 0; b < best.length; b++) {
      ids[b] = touched[best[b]!]!;
      sims[b] = candidateSims[best[b]!]!;
    }
    rows.push(ids);
    rowSims.push(sims);
    total += ids.length;
    indptr[i + 1] = total;
  }
  const neighbours = new Int32Array(total);
  const similarities = new Float64Array(total);
  for (let i = 0; i < nItems; i++) {
    neighbours.set(rows[i]!, indptr[i]!);
    similarities.set(rowSims[i]!, indptr[i]!);
  }
  return { nItems, indptr, neighbours, similarities };
}

/** Σ over the user's items i (with weights) of sim(i, j), for every item j. */
export function itemKnnScores(
  model: ItemKnnModel,
  items: ArrayLike<number>,
  weights: ArrayLike<number>,
  out: Float64Array = new Float64Array(model.nItems),
): Float64Array {
  out.fill(0);
  for (let k = 0; k < items.length; k++) {
    const i = items[k]!;
    const w = weights[k]!;
    if (w === 0) continue;
    for (let q = model.indptr[i]!; q < model.indptr[i + 1]!; q++)
      out[model.neighbours[q]!]! += w * model.similarities[q]!;
  }
  return out;
}

/** The user's top-k items from their weighted interactions, leaving out `history`. */
export function recommendItemKnn(
  model: ItemKnnModel,
  items: ArrayLike<number>,
  weights: ArrayLike<number>,
  history: ArrayLike<number>,
  k: number,
  scratch?: Float64Array,
): Int32Array {
  return topKExcluding(itemKnnScores(model, items, weights, scratch), k, history);
}
