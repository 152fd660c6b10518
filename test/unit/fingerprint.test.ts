import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FINGERPRINT,
  fingerprint,
  fingerprintDim,
  fingerprintSpecFor,
  scaledStat,
  tokens,
} from '../../core/embeddings/fingerprint.ts';
import type { ScalerSnapshot } from '../../core/features/scaler.ts';

const rec = (attributes: Record<string, string[]>, numeric: Record<string, number> = {}) => ({ attributes, numeric });
const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
const spec = { ...DEFAULT_FINGERPRINT, numeric: ['price', 'year'] };

describe('content fingerprints', () => {
  it('are unit length, deterministic, and sized by the spec', () => {
    const a = fingerprint(rec({ genres: ['Action'], title: ['Heat'] }, { price: 10 }), spec, null);
    expect(a).toHaveLength(fingerprintDim(spec));
    expect(dot(a, a)).toBeCloseTo(1, 12);
    expect(fingerprint(rec({ genres: ['Action'], title: ['Heat'] }, { price: 10 }), spec, null)).toEqual(a);
    expect(Array.from(fingerprint(rec({}), spec, null)).every((x) => x === 0)).toBe(true);
  });

  it('place items sharing categories and title words closer than items sharing nothing', () => {
    const heat = fingerprint(rec({ genres: ['Action', 'Crime'], title: ['Heat'] }), spec, null);
    const ronin = fingerprint(rec({ genres: ['Action', 'Crime'], title: ['Ronin'] }), spec, null);
    const toyStory = fingerprint(rec({ genres: ['Animation', 'Children'], title: ['Toy Story'] }), spec, null);
    const toyStory2 = fingerprint(rec({ genres: ['Animation', 'Children'], title: ['Toy Story 2'] }), spec, null);
    expect(dot(heat, ronin)).toBeGreaterThan(dot(heat, toyStory) + 0.3);
    expect(dot(toyStory, toyStory2)).toBeGreaterThan(dot(toyStory, ronin) + 0.5);
  });

  it('scale numeric stats by the scaler version (ctx.<name> first), clipped; unknown ones by signed log1p', () => {
    const scaler: ScalerSnapshot = { features: { 'ctx.price': { count: 10, mean: 20, std: 5, min: 0, max: 100 } } };
    expect(scaledStat(scaler, 'price', 30)).toBeCloseTo(2, 12);
    expect(scaledStat(scaler, 'price', 1e6)).toBe(5);
    expect(scaledStat(null, 'price', Math.E - 1)).toBeCloseTo(1, 12);
    expect(scaledStat(scaler, 'year', -(Math.E - 1))).toBeCloseTo(-1, 12);
  });

  it('take the numeric block from every stat the catalogue carries, in sorted order', () => {
    expect(fingerprintSpecFor([{ numeric: { year: 1 } }, { numeric: { price: 2, year: 3 } }] as never).numeric).toEqual(
      ['price', 'year'],
    );
    expect(tokens('Toy Story 2 (Pixar)')).toEqual(['toy', 'story', 'pixar']);
  });
});
