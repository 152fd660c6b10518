import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../core/canonical-json.ts';
import { numericFeatures } from '../../core/features/numeric-features.ts';
import {
  decidePromotion,
  drift,
  emptyStats,
  mergeAccumulators,
  mergeStats,
  observe,
  observeAll,
  scale,
  snapshotOf,
  type ScalerAccumulator,
} from '../../core/features/scaler.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

describe('Welford running stats', () => {
  it('match a two-pass computation', () => {
    const xs = [2, 4, 4, 4, 5, 5, 7, 9];
    const s = emptyStats();
    for (const x of xs) observe(s, x);
    expect(s.mean).toBeCloseTo(5);
    expect(s.m2 / s.count).toBeCloseTo(4); // population variance of the textbook example
    expect([s.min, s.max]).toEqual([2, 9]);
  });

  it('merge of partition results equals a single pass over all the data', () => {
    const rand = seededRandom(3);
    const xs = Array.from({ length: 10_000 }, () => 1e6 + rand() * 100); // large offset: the naive formula loses precision here
    const single = emptyStats();
    for (const x of xs) observe(single, x);
    const parts = [emptyStats(), emptyStats(), emptyStats()];
    xs.forEach((x, i) => observe(parts[i % 3 === 0 ? 0 : i < 7000 ? 1 : 2]!, x));
    const merged = parts.reduce(mergeStats, emptyStats());
    expect(merged.count).toBe(single.count);
    expect(Math.abs(merged.mean - single.mean) / single.mean).toBeLessThan(1e-12);
    expect(Math.abs(merged.m2 - single.m2) / single.m2).toBeLessThan(1e-9);
    expect(Math.abs(single.m2 / single.count / (100 ** 2 / 12) - 1)).toBeLessThan(0.05); // uniform(0, 100) variance despite the offset
    expect([merged.min, merged.max]).toEqual([single.min, single.max]);
  });

  it('merges accumulators feature by feature, skipping non-finite values', () => {
    const a: ScalerAccumulator = {};
    const b: ScalerAccumulator = {};
    observeAll(a, { price: 10, position: 1 });
    observeAll(b, { price: 20, position: Number.NaN });
    const m = mergeAccumulators([a, b]);
    expect(m.price!.count).toBe(2);
    expect(m.price!.mean).toBe(15);
    expect(m.position!.count).toBe(1);
  });
});

describe('snapshots and scaling', () => {
  it('z-scores with the version statistics and passes unknown features through', () => {
    const acc: ScalerAccumulator = {};
    for (const x of [1, 3]) observeAll(acc, { x, constant: 5 });
    const snap = snapshotOf(acc);
    expect(scale(snap, 'x', 3)).toBeCloseTo(1);
    expect(scale(snap, 'constant', 5)).toBe(0); // std 0 -> 1, not a division by zero
    expect(scale(snap, 'unknown', 7)).toBe(7);
  });
});

describe('promotion policy', () => {
  const policy = { minSamples: 100, minDrift: 0.05, maxDrift: 3 };
  const snap = (mean: number, std: number, count = 1000) => ({
    features: { price: { count, mean, std, min: 0, max: 0 } },
  });

  it('promotes the first version once enough samples accrued', () => {
    expect(decidePromotion(null, snap(10, 2, 50), policy)).toMatchObject({
      promote: false,
      reason: 'insufficient-samples',
      samples: 50,
    });
    expect(decidePromotion(null, snap(10, 2), policy)).toMatchObject({ promote: true, reason: 'first-version' });
  });

  it('keeps the current version when nothing material changed, and holds a suspicious jump', () => {
    expect(decidePromotion(snap(10, 2), snap(10.05, 2), policy)).toMatchObject({
      promote: false,
      reason: 'no-material-change',
    });
    expect(decidePromotion(snap(10, 2), snap(11, 2), policy)).toMatchObject({
      promote: true,
      reason: 'drift-within-bounds',
    });
    const jump = decidePromotion(snap(10, 2), snap(30, 2), policy);
    expect(jump).toMatchObject({ promote: false, reason: 'drift-too-large' });
    expect(jump.drift!.features.price!.meanShift).toBeCloseTo(10);
    expect(decidePromotion(snap(10, 2), snap(30, 2), policy, true)).toMatchObject({ promote: true, reason: 'forced' });
  });

  it('measures a spread change and reports added and removed features', () => {
    const d = drift(snap(0, 1), {
      features: {
        price: { count: 1, mean: 0, std: 2, min: 0, max: 0 },
        rating: { count: 1, mean: 0, std: 1, min: 0, max: 0 },
      },
    });
    expect(d.features.price!.stdLogRatio).toBeCloseTo(Math.LN2);
    expect(d.added).toEqual(['rating']);
    expect(d.max).toBe(Infinity);
  });
});

describe('numeric features and canonical JSON', () => {
  it('takes position, value and numeric context entries', () => {
    const base = { eventId: 'e', tenant: 't', userId: 'u', itemId: 'i', timestamp: 1, recommendationId: null };
    expect(
      numericFeatures({
        ...base,
        type: 'conversion',
        value: 9.5,
        context: { price: '12.5', colour: 'red', rating: '4', code: '1e3' },
      }),
    ).toEqual({ value: 9.5, 'ctx.price': 12.5, 'ctx.rating': 4, 'ctx.code': 1000 });
    expect(
      numericFeatures({ ...base, type: 'impression', recommendationId: 'r', position: 3, feedId: 'f', context: {} }),
    ).toEqual({ position: 3 });
  });

  it('serialises equal values to equal bytes whatever the key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } })).toBe(
      canonicalJson({ a: { c: null, d: [1, { y: 2, z: 1 }] }, b: 1 }),
    );
  });
});
