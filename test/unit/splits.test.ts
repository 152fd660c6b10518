import { describe, expect, it } from 'vitest';
import type { InteractionLog } from '../../core/eval/interaction-log.ts';
import { leaveLastNSplit, splitRowsAgain, temporalSplit } from '../../core/eval/splits.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

/** 30 users, 3..40 rows each, timestamps on a coarse grid so many rows share a second. */
function syntheticLog(): InteractionLog {
  const random = seededRandom(5);
  const user: number[] = [];
  const item: number[] = [];
  const time: number[] = [];
  for (let u = 0; u < 30; u++) {
    const n = 3 + Math.floor(random() * 38);
    for (let k = 0; k < n; k++) {
      user.push(u);
      item.push(Math.floor(random() * 50));
      time.push(1_000_000 + Math.floor(random() * 200) * 60);
    }
  }
  return {
    nUsers: 30,
    nItems: 50,
    user: Int32Array.from(user),
    item: Int32Array.from(item),
    rating: new Float64Array(user.length).fill(4),
    time: Float64Array.from(time),
  };
}

const max = (log: InteractionLog, rows: Int32Array) => Math.max(...Array.from(rows, (r) => log.time[r]!));
const min = (log: InteractionLog, rows: Int32Array) => Math.min(...Array.from(rows, (r) => log.time[r]!));

describe('temporalSplit', () => {
  const log = syntheticLog();
  const split = temporalSplit(log);

  it('partitions every row exactly once', () => {
    const all = [...split.train, ...split.early, ...split.late].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: log.user.length }, (_, k) => k));
  });

  it('has no leakage: every train timestamp is before every test timestamp, and early before late', () => {
    expect(max(log, split.train)).toBeLessThan(min(log, split.early));
    expect(max(log, split.early)).toBeLessThan(min(log, split.late));
    expect(max(log, split.train)).toBeLessThan(split.trainEnd);
    expect(min(log, split.late)).toBe(split.lateStart);
  });

  it('cuts at the 80th percentile and halves the test period at its median (ties go later)', () => {
    const n = log.user.length;
    expect(split.train.length).toBeLessThanOrEqual(Math.floor(0.8 * n));
    expect(split.train.length).toBeGreaterThan(0.7 * n);
    const test = split.early.length + split.late.length;
    expect(split.early.length).toBeLessThanOrEqual(Math.floor(test / 2));
    expect(split.late.length).toBeGreaterThanOrEqual(test / 2);
  });

  it('lists rows chronologically', () => {
    for (const part of [split.train, split.early, split.late]) {
      for (let k = 1; k < part.length; k++) expect(log.time[part[k]!]!).toBeGreaterThanOrEqual(log.time[part[k - 1]!]!);
    }
  });
});

describe('leaveLastNSplit', () => {
  const log = syntheticLog();
  const n = 5;
  const split = leaveLastNSplit(log, n);

  it('holds out each user’s last n rows, the n before them as early, the rest as train', () => {
    for (let u = 0; u < log.nUsers; u++) {
      const mine = (rows: Int32Array) => Array.from(rows).filter((r) => log.user[r] === u);
      const [train, early, late] = [mine(split.train), mine(split.early), mine(split.late)];
      const total = train.length + early.length + late.length;
      if (total <= n) {
        expect(early.length + late.length).toBe(0);
        continue;
      }
      expect(late.length).toBe(n);
      expect(early.length).toBe(Math.min(n, total - n));
      const t = (rows: number[]) => rows.map((r) => log.time[r]!);
      if (train.length > 0 && early.length > 0)
        expect(Math.max(...t(train))).toBeLessThanOrEqual(Math.min(...t(early)));
      if (early.length > 0) expect(Math.max(...t(early))).toBeLessThanOrEqual(Math.min(...t(late)));
    }
  });

  it('rejects a non-positive n', () => {
    expect(() => leaveLastNSplit(log, 0)).toThrow(RangeError);
  });
});

describe('splitRowsAgain', () => {
  const log = syntheticLog();
  const all = Int32Array.from({ length: log.user.length }, (_, k) => k);
  const parts = (s: { train: Int32Array; early: Int32Array; late: Int32Array }) =>
    [s.train, s.early, s.late].map((p) => Array.from(p));

  for (const split of [temporalSplit(log, 0.7), leaveLastNSplit(log, 4)]) {
    it(`repeats the ${split.name} cut on all rows exactly`, () => {
      const again = splitRowsAgain(split, log, all);
      expect(parts(again)).toEqual(parts(split));
      expect(again.parameter).toBe(split.parameter);
    });

    it(`cuts a ${split.name} history as if it were the whole log, in rows of the log`, () => {
      const history = Int32Array.from([...split.train, ...split.early]);
      const inner = splitRowsAgain(split, log, history);
      expect([...inner.train, ...inner.early, ...inner.late].sort((a, b) => a - b)).toEqual(
        Array.from(history).sort((a, b) => a - b),
      );
      const t = (rows: Int32Array) => Array.from(rows, (r) => log.time[r]!);
      if (split.name === 'temporal') {
        expect(Math.max(...t(inner.train))).toBeLessThan(Math.min(...t(inner.early)));
        expect(Math.max(...t(inner.early))).toBeLessThanOrEqual(Math.min(...t(inner.late)));
      } else {
        for (let u = 0; u < log.nUsers; u++) {
          const mine = Array.from(history).filter((r) => log.user[r] === u);
          const late = Array.from(inner.late).filter((r) => log.user[r] === u);
          expect(late.length).toBe(mine.length > 4 ? 4 : 0);
        }
      }
    });
  }
});
