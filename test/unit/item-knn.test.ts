import { describe, expect, it } from 'vitest';
import { itemKnnScores, recommendItemKnn, trainItemKnn } from '../../core/models/item-knn.ts';
import { csrFromTriples } from '../../core/math/sparse.ts';

// u0 {0,1}, u1 {0,1,2}, u2 {2,3}. Column norms √2, √2, √2, 1; co-occurrences (0,1)=2, (0,2)=1, (1,2)=1, (2,3)=1,
// so cos(0,1) = 1, cos(0,2) = cos(1,2) = 1/2, cos(2,3) = 1/√2.
const cells = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
  [1, 2],
  [2, 2],
  [2, 3],
] as const;
const X = csrFromTriples(
  3,
  4,
  cells.map((c) => c[0]),
  cells.map((c) => c[1]),
  cells.map(() => 1),
);

describe('item-kNN', () => {
  it('computes cosine similarities and sums them over the user’s items', () => {
    const model = trainItemKnn(X, { neighbours: 10, shrinkage: 0 });
    const scores = itemKnnScores(model, [0, 3], [1, 1]);
    expect(scores[1]).toBeCloseTo(1, 12);
    expect(scores[2]).toBeCloseTo(0.5 + Math.SQRT1_2, 12);
    expect(scores[0]).toBeCloseTo(0, 12);
    expect(Array.from(recommendItemKnn(model, [0], [1], [0], 2))).toEqual([1, 2]);
  });

  it('keeps only the top neighbours per item and applies shrinkage', () => {
    const top1 = trainItemKnn(X, { neighbours: 1, shrinkage: 0 });
    const neighboursOf = (i: number) => Array.from(top1.neighbours.subarray(top1.indptr[i]!, top1.indptr[i + 1]!));
    expect(neighboursOf(2)).toEqual([3]);
    expect(neighboursOf(0)).toEqual([1]);
    const shrunk = trainItemKnn(X, { neighbours: 10, shrinkage: 2 });
    expect(itemKnnScores(shrunk, [0], [1])[1]).toBeCloseTo(2 / (2 + 2), 12);
  });
});
