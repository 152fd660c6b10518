import { describe, expect, it } from 'vitest';
import {
  bootstrapCi,
  empiricalPolicy,
  evaluatePolicy,
  importanceWeights,
  type ActionDistribution,
  type BanditLog,
} from '../../core/eval/off-policy.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { parseOpenBanditCsv } from '../../datasets/open-bandit.ts';

const A = 8;
const C = 3;
const ctr = (a: number, c: number) => 0.05 + 0.04 * a + 0.03 * c; // 0.05 .. 0.39

function simulate(n: number, policy: ActionDistribution, seed: number): BanditLog {
  const random = seededRandom(seed);
  const log: BanditLog = {
    action: new Int32Array(n),
    context: new Int32Array(n),
    reward: new Float64Array(n),
    propensity: new Float64Array(n),
    nActions: A,
    nContexts: C,
  };
  for (let i = 0; i < n; i++) {
    const c = Math.floor(random() * C);
    let u = random();
    let a = 0;
    while (a < A - 1 && u >= policy.p[c * A + a]!) u -= policy.p[c * A + a++]!;
    log.action[i] = a;
    log.context[i] = c;
    log.propensity[i] = policy.p[c * A + a]!;
    log.reward[i] = random() < ctr(a, c) ? 1 : 0;
  }
  return log;
}

const uniform: ActionDistribution = { nActions: A, nContexts: C, p: new Float64Array(A * C).fill(1 / A) };
// a target that favours high actions: p(a) ∝ (a + 1)²
const target: ActionDistribution = (() => {
  const p = new Float64Array(A * C);
  const z = Array.from({ length: A }, (_, a) => (a + 1) ** 2).reduce((s, x) => s + x, 0);
  for (let c = 0; c < C; c++) for (let a = 0; a < A; a++) p[c * A + a] = (a + 1) ** 2 / z;
  return { nActions: A, nContexts: C, p };
})();
const trueValue = (pi: ActionDistribution) => {
  let v = 0;
  for (let c = 0; c < C; c++) for (let a = 0; a < A; a++) v += (pi.p[c * A + a]! * ctr(a, c)) / C;
  return v;
};

describe('off-policy estimators', () => {
  const log = simulate(100_000, uniform, 1);
  const report = evaluatePolicy(log, target, { resamples: 300, seed: 5 });
  const truth = trueValue(target);

  it("recover a target policy's value from a uniform log, the truth inside every interval", () => {
    expect(truth).toBeGreaterThan(trueValue(uniform) + 0.05); // the target is clearly better: not a trivial check
    for (const e of [report.ips, report.snips, report.dr]) {
      expect(Math.abs(e.value / truth - 1)).toBeLessThan(0.03);
      expect(e.ci95[0]).toBeLessThanOrEqual(truth);
      expect(e.ci95[1]).toBeGreaterThanOrEqual(truth);
    }
  });

  it('give doubly robust a tighter interval than IPS when the reward model is good', () => {
    const width = (e: { ci95: [number, number] }) => e.ci95[1] - e.ci95[0];
    expect(width(report.dr)).toBeLessThan(width(report.ips));
  });

  it('reduce to the logged mean when the target is the logging policy', () => {
    const self = evaluatePolicy(log, uniform, { resamples: 100, seed: 1 });
    const mean = log.reward.reduce((s, x) => s + x, 0) / log.reward.length;
    expect(self.ips.value).toBeCloseTo(mean, 12);
    expect(self.snips.value).toBeCloseTo(mean, 12);
    expect(self.weights).toEqual({ mean: 1, max: 1 });
  });

  it("estimate a policy's average action distribution from its own log", () => {
    const own = simulate(200_000, target, 2);
    const est = empiricalPolicy(own);
    for (let i = 0; i < est.p.length; i++) expect(est.p[i]).toBeCloseTo(target.p[i]!, 2);
  });

  it('refuse a log without positive propensities and a policy of another shape', () => {
    const bad = { ...log, propensity: Float64Array.from(log.propensity, (x, i) => (i === 3 ? 0 : x)) };
    expect(() => importanceWeights(bad, target)).toThrow(/row 3: logging propensity 0/);
    expect(() => importanceWeights(log, { ...target, nActions: 5 })).toThrow(/target policy is 3x5/);
  });

  it("bootstrap a mean's interval around it", () => {
    const x = Float64Array.from({ length: 1000 }, (_, i) => i % 2);
    const [lo, hi] = bootstrapCi(x.length, (rows) => rows.reduce((s, i) => s + x[i]!, 0) / rows.length, 500, 3);
    expect(lo).toBeLessThan(0.5);
    expect(hi).toBeGreaterThan(0.5);
    expect(hi - lo).toBeLessThan(0.1);
  });
});

describe('Open Bandit files', () => {
  const header = ',timestamp,item_id,position,click,propensity_score,user_feature_0';
  it('parse into a log with 0-based slots', () => {
    const log = parseOpenBanditCsv(
      `${header}\n0,2019-11-24 00:03:13+00:00,14,3,0,0.0294,abc\n1,2019-11-24 00:03:36+00:00,10,1,1,0.0294,def\n`,
      34,
      'men.csv',
    );
    expect(Array.from(log.action)).toEqual([14, 10]);
    expect(Array.from(log.context)).toEqual([2, 0]);
    expect(Array.from(log.reward)).toEqual([0, 1]);
    expect(log.nActions).toBe(34);
  });
  it('name the line and field of a bad row', () => {
    expect(() => parseOpenBanditCsv(`${header}\n0,t,40,3,0,0.02,x\n`, 34, 'men.csv')).toThrow(
      "men.csv line 2: item_id 40 is not one of the campaign's 34 items",
    );
    expect(() => parseOpenBanditCsv(`${header}\n0,t,4,3,0,0,x\n`, 34, 'men.csv')).toThrow(
      /propensity_score 0 is not in/,
    );
  });
});
