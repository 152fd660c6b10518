// Small dense linear algebra over Float64Array, row-major, only what the models need. Vectors are addressed as
// (array, offset) so a factor row is used in place, never copied. Inner loops run over contiguous memory and the
// long ones keep four accumulators, which lets V8 overlap the multiply-adds.

/** Σ a[aOff + k] * b[bOff + k] for k < n. */
export function dot(a: Float64Array, aOff: number, b: Float64Array, bOff: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  for (; k + 3 < n; k += 4) {
    s0 += a[aOff + k]! * b[bOff + k]!;
    s1 += a[aOff + k + 1]! * b[bOff + k + 1]!;
    s2 += a[aOff + k + 2]! * b[bOff + k + 2]!;
    s3 += a[aOff + k + 3]! * b[bOff + k + 3]!;
  }
  for (; k < n; k++) s0 += a[aOff + k]! * b[bOff + k]!;
  return s0 + s1 + s2 + s3;
}

/** y[yOff + k] += alpha * x[xOff + k] for k < n. */
export function axpy(alpha: number, x: Float64Array, xOff: number, y: Float64Array, yOff: number, n: number): void {
  for (let k = 0; k < n; k++) y[yOff + k]! += alpha * x[xOff + k]!;
}

/**
 * out = A x for a dense n×n matrix A. Four rows at a time: each x[k] is loaded once for four products, which is what
 * bounds the speed of this loop in V8 (loads, not multiplies).
 */
export function matVec(a: Float64Array, n: number, x: Float64Array, out: Float64Array): void {
  let i = 0;
  for (; i + 3 < n; i += 4) {
    const r0 = i * n;
    const r1 = r0 + n;
    const r2 = r1 + n;
    const r3 = r2 + n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let k = 0; k < n; k++) {
      const xk = x[k]!;
      s0 += a[r0 + k]! * xk;
      s1 += a[r1 + k]! * xk;
      s2 += a[r2 + k]! * xk;
      s3 += a[r3 + k]! * xk;
    }
    out[i] = s0;
    out[i + 1] = s1;
    out[i + 2] = s2;
    out[i + 3] = s3;
  }
  for (; i < n; i++) out[i] = dot(a, i * n, x, 0, n);
}

/**
 * out[r][c] += Σₖ z[r][k]·z[c][k] for c <= r (the lower triangle of Z Zᵀ), Z being `rows` × `length` row-major and
 * out `rows` × `rows`. Blocked 4 rows × 2 columns so each loaded value feeds several multiply-adds.
 */
export function addGramLower(z: Float64Array, rows: number, length: number, out: Float64Array): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const z0 = r * length;
    const z1 = z0 + length;
    const z2 = z1 + length;
    const z3 = z2 + length;
    // r is a multiple of 4, so even c up to r + 2 covers every column of the block's lower triangle.
    for (let c = 0; c <= r + 2; c += 2) {
      const y0 = c * length;
      const y1 = y0 + length;
      let s00 = 0;
      let s01 = 0;
      let s10 = 0;
      let s11 = 0;
      let s20 = 0;
      let s21 = 0;
      let s30 = 0;
      let s31 = 0;
      for (let k = 0; k < length; k++) {
        const a0 = z[y0 + k]!;
        const a1 = z[y1 + k]!;
        const x0 = z[z0 + k]!;
        const x1 = z[z1 + k]!;
        const x2 = z[z2 + k]!;
        const x3 = z[z3 + k]!;
        s00 += x0 * a0;
        s01 += x0 * a1;
        s10 += x1 * a0;
        s11 += x1 * a1;
        s20 += x2 * a0;
        s21 += x2 * a1;
        s30 += x3 * a0;
        s31 += x3 * a1;
      }
      // The last column pair of the block reaches above the diagonal for the first rows: skip those cells.
      const o = r * rows + c;
      if (c <= r) out[o]! += s00;
      if (c + 1 <= r) out[o + 1]! += s01;
      if (c <= r + 1) out[o + rows]! += s10;
      if (c + 1 <= r + 1) out[o + rows + 1]! += s11;
      out[o + 2 * rows]! += s20;
      if (c + 1 <= r + 2) out[o + 2 * rows + 1]! += s21;
      out[o + 3 * rows]! += s30;
      out[o + 3 * rows + 1]! += s31;
    }
  }
  for (; r < rows; r++) for (let c = 0; c <= r; c++) out[r * rows + c]! += dot(z, r * length, z, c * length, length);
}

export class NotPositiveDefiniteError extends Error {
  constructor(readonly pivot: number) {
    super(`matrix is not symmetric positive definite (pivot ${pivot})`);
  }
}

/**
 * Cholesky factorisation A = L Lᵀ in place: reads the lower triangle of the symmetric n×n matrix `a` and overwrites
 * it with L (the strict upper triangle is left untouched). Row-oriented (Cholesky–Banachiewicz) so every inner
 * product runs along two contiguous rows.
 */
export function choleskyInPlace(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = 0; j < i; j++) {
      const rowJ = j * n;
      a[rowI + j] = (a[rowI + j]! - dot(a, rowI, a, rowJ, j)) / a[rowJ + j]!;
    }
    const d = a[rowI + i]! - dot(a, rowI, a, rowI, i);
    if (!(d > 0)) throw new NotPositiveDefiniteError(i);
    a[rowI + i] = Math.sqrt(d);
  }
}

/** Solves L Lᵀ x = b in place (b becomes x), L as left by choleskyInPlace. */
export function choleskySolveInPlace(l: Float64Array, n: number, b: Float64Array): void {
  for (let i = 0; i < n; i++) b[i] = (b[i]! - dot(l, i * n, b, 0, i)) / l[i * n + i]!;
  for (let i = n - 1; i >= 0; i--) {
    let s = b[i]!;
    for (let k = i + 1; k < n; k++) s -= l[k * n + i]! * b[k]!;
    b[i] = s / l[i * n + i]!;
  }
}

/**
 * Inverse of a symmetric positive definite n×n matrix, returned as a new full symmetric matrix; `a` is destroyed.
 * A = L Lᵀ, U = L⁻ᵀ (row j of U is column j of L⁻¹, found by forward substitution), A⁻¹ = U Uᵀ. Each of the three
 * stages costs n³/6 multiply-adds and reads only contiguous rows.
 */
export function invertSpd(a: Float64Array, n: number): Float64Array {
  choleskyInPlace(a, n);
  const u = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    u[rowJ + j] = 1 / a[rowJ + j]!;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      u[rowJ + i] = -dot(a, rowI + j, u, rowJ + j, i - j) / a[rowI + i]!;
    }
  }
  // U is upper triangular, so (U Uᵀ)[i][j] only sums k >= max(i, j). L is no longer needed: write A⁻¹ over it.
  for (let i = 0; i < n; i++) {
    const rowI = i * n;
    for (let j = i; j < n; j++) {
      const v = dot(u, rowI + j, u, j * n + j, n - j);
      a[rowI + j] = v;
      a[j * n + i] = v;
    }
  }
  return a;
}

/** A symmetric positive definite operator known only through its product with a vector. */
export interface LinearOperator {
  readonly size: number;
  apply(x: Float64Array, out: Float64Array): void;
}

/** Scratch vectors for conjugateGradient, reused across solves so a training sweep allocates nothing per row. */
export interface CgWorkspace {
  x: Float64Array;
  r: Float64Array;
  p: Float64Array;
  ap: Float64Array;
}

export function cgWorkspace(size: number): CgWorkspace {
  return {
    x: new Float64Array(size),
    r: new Float64Array(size),
    p: new Float64Array(size),
    ap: new Float64Array(size),
  };
}

const CG_TOLERANCE = 1e-20;

/**
 * At most `steps` conjugate-gradient iterations on A x = b, starting from (warm start) and updating ws.x in place.
 * A few steps from the previous solution is what makes implicit ALS cheap: each sweep only needs to improve on it.
 */
export function conjugateGradient(op: LinearOperator, b: Float64Array, steps: number, ws: CgWorkspace): void {
  const n = op.size;
  const { x, r, p, ap } = ws;
  op.apply(x, ap);
  for (let k = 0; k < n; k++) {
    r[k] = b[k]! - ap[k]!;
    p[k] = r[k]!;
  }
  let rsOld = dot(r, 0, r, 0, n);
  for (let step = 0; step < steps && rsOld > CG_TOLERANCE; step++) {
    op.apply(p, ap);
    const pAp = dot(p, 0, ap, 0, n);
    if (!(pAp > 0)) break;
    const alpha = rsOld / pAp;
    axpy(alpha, p, 0, x, 0, n);
    axpy(-alpha, ap, 0, r, 0, n);
    const rsNew = dot(r, 0, r, 0, n);
    const beta = rsNew / rsOld;
    for (let k = 0; k < n; k++) p[k] = r[k]! + beta * p[k]!;
    rsOld = rsNew;
  }
}
