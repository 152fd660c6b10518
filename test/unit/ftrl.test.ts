import { describe, expect, it } from 'vitest';
import { FtrlModel, auc, logLoss, type Features } from '../../core/models/ftrl.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

// Planted truth: logit = -3 + 1.5·[colour=red] + 1.0·[pos=0] − 1.0·[pos=2]; "noise=*" features (50k values, each
// seen about once) carry nothing.
function sample(random: () => number): { f: Features; y: 0 | 1; p: number } {
  const colour = ['red', 'blue', 'green'][Math.floor(random() * 3)]!;
  const pos = Math.floor(random() * 3);
  const logit = -3 + (colour === 'red' ? 1.5 : 0) + (pos === 0 ? 1 : pos === 2 ? -1 : 0);
  const p = 1 / (1 + Math.exp(-logit));
  return {
    f: [
      [`colour=${colour}`, 1],
      [`pos=${pos}`, 1],
      [`noise=${Math.floor(random() * 50_000)}`, 1],
    ],
    y: random() < p ? 1 : 0,
    p,
  };
}

describe('FTRL-Proximal', () => {
  const random = seededRandom(9);
  const model = new FtrlModel({ alpha: 0.1, beta: 1, l1: 2, l2: 1, bits: 16, baseLogit: 0 });
  for (let i = 0; i < 60_000; i++) {
    const s = sample(random);
    model.update(s.f, s.y);
  }
  const test = Array.from({ length: 20_000 }, () => sample(random));
  const predicted = test.map((s) => model.predict(s.f));

  it('learns a planted logistic relation online: ranks as well as the truth and is calibrated', () => {
    const labels = test.map((s) => s.y);
    const truthAuc = auc(
      test.map((s) => s.p),
      labels,
    );
    expect(auc(predicted, labels)).toBeGreaterThan(truthAuc - 0.01);
    expect(logLoss(predicted, labels)).toBeLessThan(
      logLoss(
        test.map((s) => s.p),
        labels,
      ) + 0.005,
    );
    const meanP = predicted.reduce((a, b) => a + b, 0) / predicted.length;
    const rate = labels.reduce((a: number, b) => a + b, 0) / labels.length;
    expect(Math.abs(meanP - rate)).toBeLessThan(0.01);
  });

  it('keeps uninformative features at exactly zero (L1) and explains a prediction by contributions', () => {
    const e = model.explain([
      ['colour=red', 1],
      ['pos=2', 1],
      ['noise=7', 1],
    ]);
    const by = new Map(e.contributions.map((c) => [c.feature, c]));
    expect(by.get('noise=7')!.weight).toBe(0);
    // one-hot effects are identified up to the bias: compare contrasts with the planted ones (1.5 and 2.0), shrunk
    const w = (f: string) => model.explain([[f, 1]]).contributions[0]!.weight;
    expect(w('colour=red') - w('colour=blue')).toBeGreaterThan(1.0);
    expect(w('colour=red') - w('colour=blue')).toBeLessThan(1.7);
    expect(w('pos=0') - w('pos=2')).toBeGreaterThan(1.4);
    expect(by.get('pos=2')!.contribution).toBeLessThan(0);
    const magnitudes = e.contributions.map((c) => Math.abs(c.contribution));
    expect(magnitudes).toEqual([...magnitudes].sort((a, b) => b - a)); // largest magnitude first
    const logit = e.bias + e.contributions.reduce((s, c) => s + c.contribution, 0);
    expect(e.probability).toBeCloseTo(1 / (1 + Math.exp(-logit)), 12);
  });

  it('round-trips through a sparse snapshot', () => {
    const copy = FtrlModel.fromSnapshot(model.toSnapshot());
    expect(copy.predict(test[0]!.f)).toBe(model.predict(test[0]!.f));
    expect(copy.updates).toBe(60_000);
    expect(model.toSnapshot().indices.length).toBeLessThan(2 ** 16); // only coordinates ever touched
  });
});

describe('AUC and log loss', () => {
  it('match hand-computed values', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2), 12);
  });
});
