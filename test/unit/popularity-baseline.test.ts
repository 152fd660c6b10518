import { describe, expect, it } from 'vitest';
import { recommendPopular, trainPopularity } from '../../core/models/popularity-baseline.ts';

describe('popularity baseline', () => {
  it('ranks by interaction count, skips the user’s history, and leaves the model untouched', () => {
    const model = trainPopularity([2, 2, 2, 0, 0, 3, 1, 1, 1, 1], 5);
    expect(Array.from(recommendPopular(model, [], 3))).toEqual([1, 2, 0]);
    expect(Array.from(recommendPopular(model, [1], 3))).toEqual([2, 0, 3]);
    expect(Array.from(model.counts)).toEqual([2, 4, 3, 1, 0]);
  });
});
