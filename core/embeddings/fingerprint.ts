// Content "fingerprints": a fixed-length embedding of what the catalogue says about an item, for items with too few
// interactions to have a trustworthy collaborative vector. Three blocks, each L2-normalised and weighted, then the
// concatenation is normalised again (so the blocks' weights, not their sizes, set their influence):
//   numeric      explicit stats (price, year...) as z-scores with the current scaler version, clipped to ±5
//   categorical  every attribute=value pair hashed into a fixed number of buckets (signed feature hashing)
//   text         word tokens of the text attributes (title, description), hashed the same way, log tf
import type { CatalogItem } from '../catalog.ts';
import { fnv1a32 } from '../math/fnv-hash.ts';
import type { ScalerSnapshot } from '../features/scaler.ts';

export interface FingerprintSpec {
  /** Numeric stats in block order (sorted names); an item lacking one has 0 there. */
  numeric: string[];
  categoricalBuckets: number;
  textBuckets: number;
  /** Attributes treated as free text (tokenised) rather than categories. */
  textAttributes: string[];
  weights: { numeric: number; categorical: number; text: number };
}

export const DEFAULT_FINGERPRINT: Omit<FingerprintSpec, 'numeric'> = {
  categoricalBuckets: 128,
  textBuckets: 128,
  textAttributes: ['title', 'description'],
  weights: { numeric: 0.5, categorical: 1, text: 0.7 },
};

export function fingerprintDim(spec: FingerprintSpec): number {
  return spec.numeric.length + spec.categoricalBuckets + spec.textBuckets;
}

/** The spec for a catalogue: every numeric stat some item carries, in sorted order. */
export function fingerprintSpecFor(
  items: Iterable<CatalogItem>,
  base: Omit<FingerprintSpec, 'numeric'> = DEFAULT_FINGERPRINT,
): FingerprintSpec {
  const names = new Set<string>();
  for (const item of items) for (const n of Object.keys(item.numeric)) names.add(n);
  return { ...base, numeric: [...names].sort() };
}

const TOKEN = /[\p{L}\p{N}]+/gu;

export function tokens(text: string): string[] {
  return (text.toLowerCase().match(TOKEN) ?? []).filter((t) => t.length > 1);
}

/**
 * z-score by the scaler version: events carry numeric context as `ctx.<name>`, so an item's `price` is scaled by the
 * distribution of `ctx.price` the events showed; a stat the scaler has never seen is compressed by a signed log1p.
 */
export function scaledStat(scaler: ScalerSnapshot | null, name: string, x: number): number {
  const f = scaler?.features[`ctx.${name}`] ?? scaler?.features[name];
  const z = f ? (x - f.mean) / f.std : Math.sign(x) * Math.log1p(Math.abs(x));
  return Math.max(-5, Math.min(5, z));
}

function normaliseBlock(v: Float64Array, from: number, to: number, weight: number): void {
  let n = 0;
  for (let i = from; i < to; i++) n += v[i]! * v[i]!;
  if (n === 0) return;
  const s = weight / Math.sqrt(n);
  for (let i = from; i < to; i++) v[i]! *= s;
}

/** The item's fingerprint under the spec, unit length (all zeros for an item with nothing to say). */
export function fingerprint(
  item: Pick<CatalogItem, 'attributes' | 'numeric'>,
  spec: FingerprintSpec,
  scaler: ScalerSnapshot | null,
): Float64Array {
  const v = new Float64Array(fingerprintDim(spec));
  const nNum = spec.numeric.length;
  spec.numeric.forEach((name, i) => {
    const x = item.numeric[name];
    if (x !== undefined) v[i] = scaledStat(scaler, name, x);
  });
  const catStart = nNum;
  const textStart = nNum + spec.categoricalBuckets;
  const tf = new Map<number, number>();
  for (const [attr, values] of Object.entries(item.attributes)) {
    if (values.length === 0) continue;
    if (spec.textAttributes.includes(attr)) {
      for (const value of values) {
        for (const t of tokens(value)) {
          const h = fnv1a32(`${attr}:${t}`);
          const bucket = textStart + (h % spec.textBuckets);
          tf.set(bucket, (tf.get(bucket) ?? 0) + (h >>> 31 === 1 ? -1 : 1));
        }
      }
    } else {
      // each attribute contributes unit mass however many values it has
      const w = 1 / Math.sqrt(values.length);
      for (const value of values) {
        const h = fnv1a32(`${attr}=${value}`);
        v[catStart + (h % spec.categoricalBuckets)]! += h >>> 31 === 1 ? -w : w;
      }
    }
  }
  for (const [bucket, count] of tf) v[bucket] = Math.sign(count) * Math.log1p(Math.abs(count));
  normaliseBlock(v, 0, nNum, spec.weights.numeric);
  normaliseBlock(v, catStart, textStart, spec.weights.categorical);
  normaliseBlock(v, textStart, v.length, spec.weights.text);
  normaliseBlock(v, 0, v.length, 1);
  return v;
}
