import { describe, expect, it } from 'vitest';
import {
  addGramLower,
  cgWorkspace,
  choleskyInPlace,
  choleskySolveInPlace,
  conjugateGradient,
  dot,
  invertSpd,
  matVec,
  NotPositiveDefiniteError,
  type LinearOperator,
} from '../../core/math/linalg.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

/** A random SPD matrix: MᵀM + n·I. */
function spd(n: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const m = Float64Array.from({ length: n * n }, () => random() - 0.5);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) for (let k = 0; k < n; k++) a[i * n + j]! += m[k * n + i]! * m[k * n + j]!;
  for (let i = 0; i < n; i++) a[i * n + i]! += n;
  return a;
}

describe('dense helpers', () => {
  it('dot handles offsets and lengths that are not a multiple of the unrolling', () => {
    const a = Float64Array.from([9, 1, 2, 3, 4, 5, 6, 7]);
    const b = Float64Array.from([1, 1, 1, 1, 1, 2, 2]);
    expect(dot(a, 1, b, 0, 7)).toBe(1 + 2 + 3 + 4 + 5 + 12 + 14);
    expect(dot(a, 0, b, 0, 0)).toBe(0);
  });

  it('matVec matches the naive product for sizes around the 4-row blocking', () => {
    for (const n of [1, 3, 4, 6, 9]) {
      const a = spd(n, n);
      const x = Float64Array.from({ length: n }, (_, i) => i - 2);
      const out = new Float64Array(n);
      matVec(a, n, x, out);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k]! * x[k]!;
        expect(out[i]).toBeCloseTo(s, 12);
      }
    }
  });

  it('addGramLower adds the lower triangle of Z Zᵀ and leaves the strict upper triangle alone', () => {
    for (const [rows, length] of [
      [1, 3],
      [4, 5],
      [7, 2],
      [8, 9],
      [13, 4],
    ] as const) {
      const random = seededRandom(rows * 31 + length);
      const z = Float64Array.from({ length: rows * length }, () => random() - 0.5);
      const out = new Float64Array(rows * rows).fill(1);
      addGramLower(z, rows, length, out);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < rows; c++) {
          let s = 0;
          for (let k = 0; k < length; k++) s += z[r * length + k]! * z[c * length + k]!;
          expect(out[r * rows + c]).toBeCloseTo(c <= r ? 1 + s : 1, 12);
        }
      }
    }
  });
});

describe('Cholesky', () => {
  it('solves an SPD system', () => {
    const n = 7;
    const a = spd(n, 1);
    const x = Float64Array.from({ length: n }, (_, i) => i * 0.5 - 1);
    const b = new Float64Array(n);
    matVec(a, n, x, b);
    const l = a.slice();
    choleskyInPlace(l, n);
    choleskySolveInPlace(l, n, b);
    for (let i = 0; i < n; i++) expect(b[i]).toBeCloseTo(x[i]!, 10);
  });

  it('refuses a matrix that is not positive definite', () => {
    expect(() => choleskyInPlace(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(NotPositiveDefiniteError);
  });

  it('invertSpd gives A·A⁻¹ = I, symmetric', () => {
    const n = 11;
    const a = spd(n, 2);
    const inv = invertSpd(a.slice(), n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k]! * inv[k * n + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 10);
        expect(inv[i * n + j]).toBe(inv[j * n + i]);
      }
    }
  });
});

describe('conjugateGradient', () => {
  it('reaches the exact solution in n steps and improves monotonically from a warm start', () => {
    const n = 6;
    const a = spd(n, 3);
    const op: LinearOperator = { size: n, apply: (x, out) => matVec(a, n, x, out) };
    const x = Float64Array.from({ length: n }, (_, i) => 1 - i);
    const b = new Float64Array(n);
    matVec(a, n, x, b);
    const ws = cgWorkspace(n);
    const error = () => Math.hypot(...Array.from(ws.x, (v, i) => v - x[i]!));
    conjugateGradient(op, b, 1, ws);
    const afterOne = error();
    conjugateGradient(op, b, n, ws);
    expect(error()).toBeLessThan(1e-9);
    expect(afterOne).toBeGreaterThan(error());
  });
});
