import { describe, expect, it } from 'vitest';
import { topKExcluding } from '../../core/math/top-k.ts';

describe('topKExcluding', () => {
  it('returns the k best by descending score, skipping excluded and unscorable items', () => {
    const scores = Float64Array.from([0.1, 0.9, -Infinity, 0.5, 0.7, NaN, 0.8]);
    expect(Array.from(topKExcluding(scores, 3, [1]))).toEqual([6, 4, 3]);
  });

  it('breaks ties by the lower item index and returns fewer than k when the catalogue runs out', () => {
    expect(Array.from(topKExcluding(Float64Array.from([1, 2, 2, 1, 2]), 4, []))).toEqual([1, 2, 4, 0]);
    expect(Array.from(topKExcluding(Float64Array.from([3, 1, 2]), 5, [0]))).toEqual([2, 1]);
    expect(topKExcluding(Float64Array.from([3, 1]), 0, []).length).toBe(0);
  });

  it('matches a full sort on random scores', () => {
    let seed = 7;
    const scores = Float64Array.from({ length: 500 }, () => ((seed = (seed * 16807) % 2147483647) % 97) / 7);
    const expected = Array.from(scores.keys())
      .filter((i) => i % 5 !== 0)
      .sort((a, b) => scores[b]! - scores[a]! || a - b)
      .slice(0, 20);
    const exclude = Array.from({ length: 100 }, (_, i) => i * 5);
    expect(Array.from(topKExcluding(scores.slice(), 20, exclude))).toEqual(expected);
  });
});
