import { describe, expect, it } from 'vitest';
import { columnCounts, csrFromTriples, transpose } from '../../core/math/sparse.ts';

describe('csrFromTriples', () => {
  it('sorts columns within rows, sums duplicates and keeps empty rows', () => {
    const m = csrFromTriples(4, 5, [2, 0, 2, 0, 2, 0], [3, 4, 1, 0, 3, 4], [1, 2, 3, 4, 5, 6]);
    expect(Array.from(m.indptr)).toEqual([0, 2, 2, 4, 4]);
    expect(Array.from(m.indices)).toEqual([0, 4, 1, 3]);
    expect(Array.from(m.values)).toEqual([4, 8, 3, 6]);
  });

  it('rejects cells outside the shape', () => {
    expect(() => csrFromTriples(2, 2, [0, 2], [0, 0], [1, 1])).toThrow(RangeError);
    expect(() => csrFromTriples(2, 2, [0], [0], [1, 1])).toThrow();
  });
});

describe('transpose', () => {
  it('swaps rows and columns, with sorted indices, and round-trips', () => {
    const m = csrFromTriples(3, 4, [0, 0, 1, 2, 2], [1, 3, 1, 0, 3], [1, 2, 3, 4, 5]);
    const t = transpose(m);
    expect(t.nRows).toBe(4);
    expect(Array.from(t.indptr)).toEqual([0, 1, 3, 3, 5]);
    expect(Array.from(t.indices)).toEqual([2, 0, 1, 0, 2]);
    expect(Array.from(t.values)).toEqual([4, 1, 3, 2, 5]);
    expect(transpose(t)).toEqual(m);
    expect(Array.from(columnCounts(m))).toEqual([1, 2, 0, 2]);
  });
});
