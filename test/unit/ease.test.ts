import { describe, expect, it } from 'vitest';
import { easeScores, recommendEase, trainEase } from '../../core/models/ease.ts';
import { csrFromTriples } from '../../core/math/sparse.ts';

// Users × items: u0 {0,1}, u1 {1,2}, u2 {0,2}, u3 {0,1,2}, u4 {3}. Item 3 has support 1.
const cells = [
  [0, 0],
  [0, 1],
  [1, 1],
  [1, 2],
  [2, 0],
  [2, 2],
  [3, 0],
  [3, 1],
  [3, 2],
  [4, 3],
] as const;
const X = csrFromTriples(
  5,
  4,
  cells.map((c) => c[0]),
  cells.map((c) => c[1]),
  cells.map(() => 1),
);

describe('EASE', () => {
  it('matches the closed form worked by hand', () => {
    // Over items 0..2, XᵀX + I = 2I + 2J, so P = (I - J/4)/2: diag 3/8, off-diagonal -1/8, and
    // B[i][j] = -P[i][j] / P[j][j] = 1/3 off the diagonal, 0 on it.
    const model = trainEase(X, { l2: 1, minItemSupport: 2 });
    expect(Array.from(model.covered)).toEqual([0, 1, 2]);
    const expected = [0, 1 / 3, 1 / 3, 1 / 3, 0, 1 / 3, 1 / 3, 1 / 3, 0];
    expected.forEach((v, k) => expect(model.weights[k]).toBeCloseTo(v, 12));
  });

  it('scores x·B, never recommends uncovered or already-seen items', () => {
    const model = trainEase(X, { l2: 1, minItemSupport: 2 });
    const scores = easeScores(model, [0, 3], [1, 1]);
    expect(scores[0]).toBeCloseTo(0, 12);
    expect(scores[1]).toBeCloseTo(1 / 3, 12);
    expect(scores[2]).toBeCloseTo(1 / 3, 12);
    expect(scores[3]).toBe(-Infinity);
    expect(Array.from(recommendEase(model, [0], [1], [0], 10))).toEqual([1, 2]);
  });

  it('with support 1 covers every item and solves the 4×4 system', () => {
    const model = trainEase(X, { l2: 1, minItemSupport: 1 });
    expect(model.covered.length).toBe(4);
    // Item 3 never co-occurs with the others: its weights to and from them are 0.
    for (let i = 0; i < 3; i++) {
      expect(model.weights[i * 4 + 3]).toBeCloseTo(0, 12);
      expect(model.weights[3 * 4 + i]).toBeCloseTo(0, 12);
    }
  });
});
