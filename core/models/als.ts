// Implicit-feedback alternating least squares (Hu, Koren, Volinsky 2008, "Collaborative Filtering for Implicit
// Feedback Datasets"). Each observed cell r has confidence c = 1 + alpha·|r| and preference p = 1 if r > 0 else 0;
// unobserved cells have c = 1, p = 0. A negative r is therefore negative feedback: extra confidence that the
// preference is 0. Minimising Σ c (p - xᵤ·yᵢ)² + λ(Σ|xᵤ|² + Σ|yᵢ|²) over all cells, a row's normal equations are
//   (YᵀY + λI + Σᵢ∈Iᵤ (cᵢ - 1) yᵢyᵢᵀ) xᵤ = Σᵢ∈Iᵤ cᵢ pᵢ yᵢ
// YᵀY is shared by every row (computed once per half-sweep), so a row costs O(|Iᵤ|·f + f²) per CG step.
// Training solves them with a few warm-started conjugate-gradient steps (Takács et al. 2011, as in the `implicit`
// library); foldInUser solves one user's system exactly with Cholesky.
import {
  addGramLower,
  axpy,
  cgWorkspace,
  choleskyInPlace,
  choleskySolveInPlace,
  conjugateGradient,
  dot,
  matVec,
  type LinearOperator,
} from '../math/linalg.ts';
import { seededRandom } from '../math/seeded-random.ts';
import { transpose, type SparseMatrix } from '../math/sparse.ts';
import { topKExcluding } from '../math/top-k.ts';

export interface AlsParams {
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  /** Conjugate-gradient steps per row per half-sweep. */
  cgSteps: number;
  seed: number;
}

/**
 * Tuned on ml-latest-small with the offline protocol (npm run eval), picking the best mean NDCG@10 over both splits:
 * alpha 1..40 and λ 0.01..100 were tried; small alpha with strong λ wins (alpha 10 / λ 0.1 gave 0.145 / 0.084 on
 * the two splits against 0.152 / 0.095 here). 128 factors gained ~0.005 at three times the cost; 32 lost ~0.01.
 */
export const DEFAULT_ALS_PARAMS: AlsParams = {
  factors: 64,
  regularization: 30,
  alpha: 3,
  iterations: 15,
  cgSteps: 3,
  seed: 42,
};

export interface AlsModel {
  factors: number;
  nUsers: number;
  nItems: number;
  /** Row-major nUsers × factors. */
  userFactors: Float64Array;
  /** Row-major nItems × factors. */
  itemFactors: Float64Array;
}

type ItemSide = Pick<AlsModel, 'itemFactors' | 'nItems' | 'factors'>;

/** The product of a row's normal-equation matrix with a vector, for the row set by `row`. */
class RowSystem implements LinearOperator {
  row = 0;

  constructor(
    private readonly matrix: SparseMatrix,
    /** The fixed side's factors, row-major. */
    private readonly fixed: Float64Array,
    /** Gram matrix of the fixed side plus λI, f×f. */
    private readonly gram: Float64Array,
    private readonly alpha: number,
    readonly size: number,
  ) {}

  apply(x: Float64Array, out: Float64Array): void {
    const f = this.size;
    matVec(this.gram, f, x, out);
    const { indptr, indices, values } = this.matrix;
    for (let k = indptr[this.row]!; k < indptr[this.row + 1]!; k++) {
      const off = indices[k]! * f;
      const extra = this.alpha * Math.abs(values[k]!); // c - 1
      if (extra === 0) continue;
      axpy(extra * dot(this.fixed, off, x, 0, f), this.fixed, off, out, 0, f);
    }
  }
}

/** Gram matrix of a row-major n×f factor matrix (FᵀF, f×f) plus `ridge` on the diagonal. */
function gramian(factors: Float64Array, n: number, f: number, ridge: number): Float64Array {
  const g = new Float64Array(f * f);
  for (let r = 0; r < n; r++) {
    const off = r * f;
    for (let a = 0; a < f; a++) {
      const va = factors[off + a]!;
      if (va !== 0) axpy(va, factors, off + a, g, a * f + a, f - a);
    }
  }
  for (let a = 0; a < f; a++) {
    g[a * f + a]! += ridge;
    for (let b = a + 1; b < f; b++) g[b * f + a] = g[a * f + b]!;
  }
  return g;
}

/** One half-sweep: re-solves every row of `target` (rows of `matrix`) with the other side `fixed`. */
function solveRows(
  matrix: SparseMatrix,
  fixed: Float64Array,
  nFixed: number,
  target: Float64Array,
  params: AlsParams,
): void {
  const f = params.factors;
  const system = new RowSystem(matrix, fixed, gramian(fixed, nFixed, f, params.regularization), params.alpha, f);
  const ws = cgWorkspace(f);
  const b = new Float64Array(f);
  const { indptr, indices, values } = matrix;
  for (let row = 0; row < matrix.nRows; row++) {
    const start = indptr[row]!;
    const end = indptr[row + 1]!;
    const off = row * f;
    if (start === end) {
      // Nothing observed: the solution is exactly 0 (no signal, only the prior).
      target.fill(0, off, off + f);
      continue;
    }
    b.fill(0);
    for (let k = start; k < end; k++) {
      const v = values[k]!;
      if (v > 0) axpy(1 + params.alpha * v, fixed, indices[k]! * f, b, 0, f);
    }
    system.row = row;
    for (let k = 0; k < f; k++) ws.x[k] = target[off + k]!; // warm start from the previous solution
    conjugateGradient(system, b, params.cgSteps, ws);
    target.set(ws.x, off);
  }
}

/**
 * Trains on R (users × items, value = signed interaction strength; duplicates already summed by csrFromTriples).
 * Each iteration solves the items, then the users, so the returned user vectors are the (CG-approximate) solution
 * for the returned item factors: the same system foldInUser solves exactly. Deterministic for a given seed.
 */
export function trainAls(
  R: SparseMatrix,
  params: AlsParams,
  onIteration?: (iteration: number, seconds: number) => void,
): AlsModel {
  checkParams(params);
  const f = params.factors;
  const { nRows: nUsers, nCols: nItems } = R;
  const random = seededRandom(params.seed);
  // Small random start (as `implicit` does): breaks the symmetry between factors without biasing scores.
  const userFactors = new Float64Array(nUsers * f);
  const itemFactors = new Float64Array(nItems * f);
  for (let k = 0; k < userFactors.length; k++) userFactors[k] = random() * 0.01;
  for (let k = 0; k < itemFactors.length; k++) itemFactors[k] = random() * 0.01;
  const Rt = transpose(R);
  for (let it = 0; it < params.iterations; it++) {
    const started = performance.now();
    solveRows(Rt, userFactors, nUsers, itemFactors, params);
    solveRows(R, itemFactors, nItems, userFactors, params);
    onIteration?.(it + 1, (performance.now() - started) / 1000);
  }
  return { factors: f, nUsers, nItems, userFactors, itemFactors };
}

function checkParams(p: AlsParams): void {
  const problems: string[] = [];
  for (const key of ['factors', 'iterations', 'cgSteps'] as const)
    if (!(Number.isInteger(p[key]) && p[key] >= 1)) problems.push(`${key} must be a positive integer`);
  // λ > 0 keeps every row's system positive definite, however few interactions it has.
  if (!(p.regularization > 0)) problems.push('regularization must be > 0');
  if (!(p.alpha >= 0)) problems.push('alpha must be >= 0');
  if (problems.length > 0) throw new RangeError(`trainAls: ${problems.join('; ')}`);
}

/** YᵀY (f×f, row-major), without regularisation: compute once per model and pass to foldInUser. */
export function itemGramian(model: ItemSide): Float64Array {
  return gramian(model.itemFactors, model.nItems, model.factors, 0);
}

/**
 * A user's vector from their interactions with the item factors fixed: the exact (Cholesky) solution of the normal
 * equations above. Cost O(|I|·f² + f³):
 * ~100 interactions at f = 64 is about 0.2 ms. Items outside the model (index >= nItems) are ignored: they have no
 * factors until the next retrain.
 */
export function foldInUser(
  model: ItemSide,
  gram: Float64Array,
  interactions: readonly { item: number; value: number }[],
  params: Pick<AlsParams, 'regularization' | 'alpha'>,
): Float64Array {
  const f = model.factors;
  const Y = model.itemFactors;
  const a = new Float64Array(f * f);
  a.set(gram);
  for (let d = 0; d < f; d++) a[d * f + d]! += params.regularization;
  const b = new Float64Array(f);
  // Sum repeated items first (as csrFromTriples does for training): confidence grows with the total strength.
  const cells = new Map<number, number>();
  for (const { item, value } of interactions) {
    if (item >= 0 && item < model.nItems) cells.set(item, (cells.get(item) ?? 0) + value);
  }
  let m = 0;
  for (const value of cells.values()) if (value !== 0) m++;
  // Σ (cᵢ - 1) yᵢyᵢᵀ = ZᵀZ with row i of Z = sqrt(cᵢ - 1)·yᵢ. Z is stored transposed (f × m) so each entry of ZᵀZ
  // is a contiguous dot of length m, computed by a register-blocked kernel.
  const zt = new Float64Array(f * m);
  let col = 0;
  for (const [item, value] of cells) {
    if (value === 0) continue;
    const off = item * f;
    const extra = params.alpha * Math.abs(value);
    if (value > 0) axpy(1 + extra, Y, off, b, 0, f);
    const scale = Math.sqrt(extra);
    for (let r = 0; r < f; r++) zt[r * m + col] = scale * Y[off + r]!;
    col++;
  }
  // Only the lower triangle is read by the factorisation.
  addGramLower(zt, f, m, a);
  choleskyInPlace(a, f);
  choleskySolveInPlace(a, f, b);
  return b;
}

/** Scores of every item for a user vector: Y·x. */
export function scoreAll(
  model: ItemSide,
  userVector: Float64Array,
  out: Float64Array = new Float64Array(model.nItems),
): Float64Array {
  const f = model.factors;
  for (let i = 0; i < model.nItems; i++) out[i] = dot(model.itemFactors, i * f, userVector, 0, f);
  return out;
}

/** The user's top-k items, leaving out `history` (item indices they already have). `scratch` is reused if given. */
export function recommendAls(
  model: ItemSide,
  userVector: Float64Array,
  history: ArrayLike<number>,
  k: number,
  scratch?: Float64Array,
): Int32Array {
  return topKExcluding(scoreAll(model, userVector, scratch), k, history);
}

/**
 * Keeps a Gramian (YᵀY) equal to the Gramian of the factors after one row changes from `previous` (null for a new
 * row) to `next`: O(f²) instead of recomputing over every row.
 */
export function updateGramian(
  gram: Float64Array,
  factors: number,
  previous: Float64Array | null,
  next: Float64Array,
): void {
  for (let a = 0; a < factors; a++) {
    for (let b = 0; b < factors; b++) {
      gram[a * factors + b]! += next[a]! * next[b]! - (previous ? previous[a]! * previous[b]! : 0);
    }
  }
}

/**
 * An item's vector from its interactions with the user factors fixed: the same normal equations as foldInUser with the
 * roles swapped. `userVectors` packs the interacting users' vectors row-major (m × factors), in the order of `values`;
 * `userGram` is XᵀX over all users of the model.
 */
export function foldInItem(
  userVectors: Float64Array,
  factors: number,
  userGram: Float64Array,
  values: readonly number[],
  params: Pick<AlsParams, 'regularization' | 'alpha'>,
): Float64Array {
  const side = { itemFactors: userVectors, nItems: values.length, factors };
  return foldInUser(
    side,
    userGram,
    values.map((value, item) => ({ item, value })),
    params,
  );
}
