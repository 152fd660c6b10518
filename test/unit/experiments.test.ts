import { describe, expect, it } from 'vitest';
import {
  compare,
  experimentReport,
  meanMetric,
  normalCdf,
  ratioMetric,
  type UserOutcome,
} from '../../core/experiments/report.ts';
import {
  applyExperiments,
  assignVariant,
  bucket,
  experimentSchema,
  type Experiment,
} from '../../core/experiments/assignment.ts';
import { DEFAULT_RERANK } from '../../core/funnel/rerank.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const exp = (over: Partial<Experiment> = {}): Experiment =>
  experimentSchema.parse({
    id: 'diversity',
    salt: 's1',
    variants: [
      { name: 'control', weight: 1 },
      { name: 'diverse', weight: 1, overrides: { rerank: { mmrLambda: 0.7 } } },
    ],
    ...over,
  });

describe('experiment assignment', () => {
  it('is deterministic per user, split by weight, and reshuffled by a new salt', () => {
    const e = exp({
      variants: [
        { name: 'a', weight: 1, overrides: {} },
        { name: 'b', weight: 3, overrides: {} },
      ],
    });
    const users = Array.from({ length: 20_000 }, (_, i) => `u${i}`);
    const first = users.map((u) => assignVariant(e, u).name);
    expect(users.map((u) => assignVariant(e, u).name)).toEqual(first);
    const shareB = first.filter((v) => v === 'b').length / users.length;
    expect(Math.abs(shareB - 0.75)).toBeLessThan(0.015);
    const other = exp({ salt: 's2', variants: e.variants });
    const moved = users.filter((u, i) => assignVariant(other, u).name !== first[i]).length / users.length;
    expect(moved).toBeGreaterThan(0.3); // independent splits disagree on 2·0.25·0.75 = 37.5% of users
    for (const u of users.slice(0, 100)) expect(bucket('s1', u)).toBeGreaterThanOrEqual(0);
  });

  it("applies the variant's overrides and reports the assignment", () => {
    const e = exp();
    const base = { shares: { ann: 0.7, popular: 0.1, trending: 0.1, fresh: 0.1 }, rerank: DEFAULT_RERANK };
    const user = Array.from({ length: 100 }, (_, i) => `u${i}`).find((u) => assignVariant(e, u).name === 'diverse')!;
    const { settings, assignments } = applyExperiments(base, [e], user);
    expect(assignments).toEqual({ diversity: 'diverse' });
    expect(settings.rerank.mmrLambda).toBe(0.7);
    expect(settings.shares).toEqual(base.shares);
    expect(applyExperiments(base, [{ ...e, active: false }], user)).toEqual({ settings: base, assignments: {} });
  });

  it('rejects malformed experiments with the reason', () => {
    expect(
      experimentSchema.safeParse({ id: 'x', salt: 's', variants: [{ name: 'a', weight: 1 }] }).error?.issues[0]
        ?.message,
    ).toBe('at least two variants');
    expect(
      experimentSchema.safeParse({
        id: 'x',
        salt: 's',
        variants: [
          { name: 'a', weight: 1 },
          { name: 'a', weight: 1 },
        ],
      }).error?.issues[0]?.message,
    ).toBe('variant names must be unique');
    expect(
      experimentSchema.safeParse({
        id: 'x',
        salt: 's',
        control: 'z',
        variants: [
          { name: 'a', weight: 1 },
          { name: 'b', weight: 1 },
        ],
      }).error?.issues[0]?.message,
    ).toBe('control must name a variant');
    expect(
      experimentSchema.safeParse({
        id: 'x',
        salt: 's',
        variants: [
          { name: 'a', weight: 1, overrides: { rerank: { mmrLambda: 2 } } },
          { name: 'b', weight: 1 },
        ],
      }).success,
    ).toBe(false);
  });
});

describe('experiment statistics', () => {
  it('computes a ratio metric with a delta-method interval that covers the truth at about the nominal rate', () => {
    const random = seededRandom(11);
    let covered = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) {
      const xs: number[] = [];
      const ys: number[] = [];
      for (let u = 0; u < 300; u++) {
        const n = 1 + Math.floor(random() * 20);
        const p = 0.02 + 0.1 * random(); // users differ: clicks within a user are correlated
        let c = 0;
        for (let i = 0; i < n; i++) if (random() < p) c++;
        xs.push(n);
        ys.push(c);
      }
      const est = ratioMetric(ys, xs);
      if (est.ci95[0] <= 0.07 && 0.07 <= est.ci95[1]) covered++;
    }
    expect(covered / trials).toBeGreaterThan(0.92);
    expect(covered / trials).toBeLessThan(0.98);
  });

  it('finds a real lift significant and an A/A split not', () => {
    const e = exp();
    const random = seededRandom(5);
    const outcomes = (lift: number): UserOutcome[] =>
      Array.from({ length: 6000 }, (_, i) => {
        const userId = `u${i}`;
        const p = assignVariant(e, userId).name === 'diverse' ? 0.05 * lift : 0.05;
        const impressions = 10;
        let clicks = 0;
        for (let j = 0; j < impressions; j++) if (random() < p) clicks++;
        const conversions = clicks > 0 && random() < 0.2 ? 1 : 0;
        return { userId, impressions, clicks, conversions, revenue: conversions * 30 };
      });
    const lifted = experimentReport(e, outcomes(1.3));
    expect(lifted.map((v) => v.variant)).toEqual(['control', 'diverse']);
    expect(lifted[0]!.vsControl).toBeNull();
    expect(lifted[1]!.vsControl!.ctr.significant).toBe(true);
    expect(lifted[1]!.vsControl!.ctr.relativeLift).toBeGreaterThan(0.15);
    const aa = experimentReport(e, outcomes(1));
    expect(aa[1]!.vsControl!.ctr.pValue).toBeGreaterThan(0.05);
    expect(aa[0]!.users + aa[1]!.users).toBe(6000);
  });

  it('has a normal CDF and a mean metric that behave', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
    const m = meanMetric([1, 2, 3, 4]);
    expect(m.value).toBe(2.5);
    const same = compare(m, m);
    expect(same.difference).toBe(0);
    expect(same.pValue).toBeCloseTo(1, 6);
    expect(same.significant).toBe(false);
  });
});
