import { describe, expect, it } from 'vitest';
import { genreJaccardDistance } from '../../core/eval/genre-distance.ts';
import {
  averagePrecisionAtK,
  catalogCoverage,
  intraListDiversity,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  reciprocalRankAtK,
} from '../../core/eval/metrics.ts';

// Hits at ranks 2 and 5; three relevant items (9 is never recommended).
const ranked = [1, 2, 3, 4, 5];
const relevant = new Set([2, 5, 9]);
const d = (rank: number) => 1 / Math.log2(rank + 1);

describe('ranking metrics', () => {
  it('precision and recall', () => {
    expect(precisionAtK(ranked, relevant, 5)).toBeCloseTo(2 / 5, 12);
    expect(recallAtK(ranked, relevant, 5)).toBeCloseTo(2 / 3, 12);
    expect(precisionAtK(ranked, relevant, 3)).toBeCloseTo(1 / 3, 12);
    expect(precisionAtK(ranked, relevant, 10)).toBeCloseTo(2 / 10, 12); // short list: missing slots are misses
    expect(recallAtK(ranked, relevant, 1)).toBe(0);
  });

  it('NDCG with ideal = min(|relevant|, k) hits', () => {
    expect(ndcgAtK(ranked, relevant, 5)).toBeCloseTo((d(2) + d(5)) / (d(1) + d(2) + d(3)), 12); // 0.4776
    expect(ndcgAtK(ranked, relevant, 3)).toBeCloseTo(d(2) / (d(1) + d(2) + d(3)), 12);
    expect(ndcgAtK([2], new Set([2]), 10)).toBe(1);
    expect(ndcgAtK(ranked, new Set([2, 5]), 1)).toBe(0);
    expect(ndcgAtK([5, 2], new Set([2, 5, 9]), 2)).toBeCloseTo(1, 12);
  });

  it('average precision normalised by min(|relevant|, k), and reciprocal rank', () => {
    expect(averagePrecisionAtK(ranked, relevant, 5)).toBeCloseTo((1 / 2 + 2 / 5) / 3, 12);
    expect(averagePrecisionAtK(ranked, relevant, 3)).toBeCloseTo(1 / 2 / 3, 12);
    expect(averagePrecisionAtK([2, 5], relevant, 2)).toBe(1);
    expect(reciprocalRankAtK(ranked, relevant, 5)).toBe(1 / 2);
    expect(reciprocalRankAtK(ranked, relevant, 1)).toBe(0);
  });

  it('catalog coverage counts distinct items within each top k', () => {
    expect(
      catalogCoverage(
        [
          [1, 2, 7],
          [2, 3, 8],
        ],
        2,
        10,
      ),
    ).toBeCloseTo(3 / 10, 12);
  });

  it('intra-list diversity with genre Jaccard distance', () => {
    const distance = genreJaccardDistance([['A', 'B'], ['B'], ['C'], [], []]);
    expect(distance(0, 1)).toBeCloseTo(0.5, 12);
    expect(distance(0, 2)).toBe(1);
    expect(distance(0, 0)).toBe(0);
    expect(distance(3, 4)).toBe(1);
    expect(intraListDiversity([0, 1, 2], 3, distance)).toBeCloseTo((0.5 + 1 + 1) / 3, 12);
    expect(intraListDiversity([0, 1, 2], 2, distance)).toBeCloseTo(0.5, 12);
    expect(intraListDiversity([0], 3, distance)).toBeNaN();
  });

  it('genre distance packs more than 32 genres', () => {
    const many = Array.from({ length: 40 }, (_, g) => `g${g}`);
    const distance = genreJaccardDistance([many, ['g39'], ['g0', 'g39']]);
    expect(distance(1, 2)).toBeCloseTo(0.5, 12);
    expect(distance(0, 1)).toBeCloseTo(1 - 1 / 40, 12);
  });
});
