import { describe, expect, it } from 'vitest';
import type { InteractionLog } from '../../core/eval/interaction-log.ts';
import {
  candidateFeatures,
  countAtOrBefore,
  itemRatings,
  itemTimes,
  LTR_FEATURES,
  NO_NORMALISED,
  NO_SCORE,
  normalisedScores,
} from '../../core/eval/ltr-features.ts';

const DAY = 86_400;

// Three items; item 0 rated 5, 4, 2 (days 0, 10, 100), item 1 rated 3 once (day 50), item 2 never.
const log: InteractionLog = {
  nUsers: 3,
  nItems: 3,
  user: Int32Array.from([0, 1, 2, 0]),
  item: Int32Array.from([0, 0, 0, 1]),
  rating: Float64Array.from([5, 4, 2, 3]),
  time: Float64Array.from([0, 10 * DAY, 100 * DAY, 50 * DAY]),
};

describe('item statistics', () => {
  it('sorts each item’s interaction times, only from the given rows', () => {
    const times = itemTimes(log, [2, 0, 3]);
    expect(Array.from(times[0]!)).toEqual([0, 100 * DAY]);
    expect(Array.from(times[1]!)).toEqual([50 * DAY]);
    expect(times[2]!.length).toBe(0);
  });

  it('counts the times at or before a moment', () => {
    const times = Float64Array.from([1, 2, 2, 5]);
    expect([0, 1, 2, 4, 5, 9].map((t) => countAtOrBefore(times, t))).toEqual([0, 1, 3, 3, 4, 4]);
  });

  it('shrinks item mean ratings and liked shares towards the global value', () => {
    const { mean, liked } = itemRatings(log, [0, 1, 2, 3], 4, 2);
    // global mean 3.5, liked share 0.5; item 0: (11 + 2·3.5) / (3 + 2), (2 + 2·0.5) / 5
    expect(mean[0]).toBeCloseTo(18 / 5, 12);
    expect(liked[0]).toBeCloseTo(3 / 5, 12);
    expect(mean[1]).toBeCloseTo((3 + 7) / 3, 12);
    expect(mean[2]).toBeCloseTo(3.5, 12); // never rated: the global mean
    expect(liked[2]).toBeCloseTo(0.5, 12);
  });
});

describe('normalisedScores', () => {
  it('z-scores and divides by the top score over the finite scores', () => {
    const { z, ofTop } = normalisedScores([1, 3, -Infinity, 2]);
    const sd = Math.sqrt(2 / 3);
    expect(z[0]).toBeCloseTo(-1 / sd, 12);
    expect(z[1]).toBeCloseTo(1 / sd, 12);
    expect(z[2]).toBe(NO_NORMALISED);
    expect(ofTop).toEqual([1 / 3, 1, NO_NORMALISED, 2 / 3]);
  });

  it('survives equal scores and a top score of 0', () => {
    expect(normalisedScores([0, 0])).toEqual({ z: [0, 0], ofTop: [NO_NORMALISED, NO_NORMALISED] });
  });
});

describe('candidateFeatures', () => {
  const rows = [0, 1, 2, 3];
  const rowsOf = (items: number[]) =>
    candidateFeatures(items, {
      sources: [
        {
          scores: [0.9, 0.5, 0.1],
          rank: new Map([
            [0, 0],
            [1, 1],
          ]),
        },
        {
          scores: [2, -Infinity, 1],
          rank: new Map([
            [0, 0],
            [2, 1],
          ]),
        },
        { scores: [0, 0, 3], rank: new Map([[2, 0]]) },
      ],
      recent: [
        [0.5, 0, 0],
        [1, -Infinity, 0],
      ],
      popularity: [3, 1, 0],
      times: itemTimes(log, rows),
      ratings: itemRatings(log, rows, 4),
      cut: 60 * DAY,
    });
  const [x0, x1, x2] = rowsOf([0, 1, 2]);
  const at = (x: number[] | undefined, name: (typeof LTR_FEATURES)[number]) => x![LTR_FEATURES.indexOf(name)];

  it('gives one value per feature', () => {
    for (const x of [x0, x1, x2]) expect(x).toHaveLength(LTR_FEATURES.length);
  });

  it('keeps each source’s score and reciprocal rank, with stand-ins for what a source cannot score', () => {
    expect(at(x0, 'als score')).toBe(0.9);
    expect(at(x1, 'als 1/rank')).toBe(1 / 2);
    expect(at(x2, 'als 1/rank')).toBe(0);
    expect(at(x1, 'ease score')).toBe(NO_SCORE);
    expect(at(x1, 'ease z-score')).toBe(NO_NORMALISED);
    expect(at(x0, 'ease score / top')).toBe(1);
    expect(at(x1, 'ease score from last items')).toBe(NO_SCORE);
    expect(at(x0, 'knn score from last items')).toBe(0.5);
    expect([x0, x1, x2].map((x) => at(x, 'sources'))).toEqual([2, 1, 2]);
  });

  it('counts popularity only up to the cut, and item age from the first interaction before it', () => {
    // item 0: rated days 0 and 10 before the cut (day 60), day 100 after it
    expect(at(x0, 'log popularity')).toBeCloseTo(Math.log1p(3), 12);
    expect(at(x0, 'log popularity to cut')).toBeCloseTo(Math.log1p(2), 12);
    expect(at(x0, 'log popularity last 30 days')).toBe(0);
    expect(at(x0, 'log popularity last 365 days')).toBeCloseTo(Math.log1p(2), 12);
    expect(at(x0, 'log item age (days)')).toBeCloseTo(Math.log1p(60), 12);
    expect(at(x0, 'log days since item last rated')).toBeCloseTo(Math.log1p(50), 12);
    expect(at(x1, 'log popularity last 30 days')).toBeCloseTo(Math.log1p(1), 12);
    // item 2 has no interaction before the cut
    expect(at(x2, 'log item age (days)')).toBe(-1);
    expect(at(x2, 'log popularity to cut')).toBe(0);
  });
});
