// What retcon indexes: one vector per live item of a tenant, in its current ALS space. Items with enough interactions
// keep their collaborative vector; items with few or none are placed by their content fingerprint through a content map
// fitted on the well-observed items (blended with what interactions they have). Deleted catalogue items are left out.
// Pure: the retcon job feeds it the model, the ledger's counts, the catalogue and the scaler version.
import type { CatalogItem } from '../catalog.ts';
import { fnv1a32 } from '../math/fnv-hash.ts';
import {
  DEFAULT_FINGERPRINT,
  fingerprint,
  fingerprintDim,
  fingerprintSpecFor,
  type FingerprintSpec,
} from './fingerprint.ts';
import { applyContentMap, blendItemVector, fitContentMap, type ContentMap } from './content-map.ts';
import type { ScalerSnapshot } from '../features/scaler.ts';

export interface EmbeddingInputs {
  factors: number;
  /** The item's trained (or folded-in) ALS vector, if the model has one. */
  alsVector: (itemId: string) => Float64Array | undefined;
  /** Interactions per item in the ledger slice being re-embedded. */
  interactions: ReadonlyMap<string, number>;
  catalog: readonly CatalogItem[];
  scaler: ScalerSnapshot | null;
  textAttributes: string[];
  minInteractions: number;
  regularization: number;
  /** Share of the fitting items held out to measure the map (0 to skip). */
  holdoutFraction: number;
}

export interface HoldoutReport {
  items: number;
  /** Mean cosine between the mapped and the trained vector of held-out items. */
  cosine: number;
  /** The same for the mean item vector: what a map that learned nothing would score. */
  baselineCosine: number;
}

export interface ItemEmbeddings {
  itemIds: string[];
  /** Row-major, itemIds.length x factors. */
  vectors: Float32Array;
  map: ContentMap | null;
  spec: FingerprintSpec;
  fittedItems: number;
  holdout: HoldoutReport | null;
  /** Why no map is used although one was fitted: it did no better than the mean vector on the held-out items. */
  mapRejected: string | null;
  counts: { collaborative: number; blended: number; content: number; skipped: number; deleted: number };
}

/** A content map needs enough examples to say more than the mean vector. */
export const MIN_FIT_ITEMS = 50;

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

/** Deterministic per item, so the holdout is the same set on every run of the same data. */
function heldOut(itemId: string, fraction: number): boolean {
  return fnv1a32(itemId) / 2 ** 32 < fraction;
}

function fit(
  items: readonly { fp: Float64Array; v: Float64Array }[],
  dim: number,
  factors: number,
  lambda: number,
): ContentMap {
  const c = new Float64Array(items.length * dim);
  const v = new Float64Array(items.length * factors);
  items.forEach((it, i) => {
    c.set(it.fp, i * dim);
    v.set(it.v, i * factors);
  });
  return fitContentMap(c, v, items.length, dim, factors, lambda);
}

export function embedItems(inp: EmbeddingInputs): ItemEmbeddings {
  const f = inp.factors;
  const live = new Map<string, CatalogItem>();
  const deleted = new Set<string>();
  for (const item of inp.catalog) {
    if (item.deleted) deleted.add(item.itemId);
    else live.set(item.itemId, item);
  }
  const spec = fingerprintSpecFor(live.values(), { ...DEFAULT_FINGERPRINT, textAttributes: inp.textAttributes });
  const dim = fingerprintDim(spec);

  // fit on items whose collaborative vector is trustworthy and whose content is known
  const train: { fp: Float64Array; v: Float64Array }[] = [];
  const test: { fp: Float64Array; v: Float64Array }[] = [];
  for (const [id, item] of live) {
    const v = inp.alsVector(id);
    if (!v || (inp.interactions.get(id) ?? 0) < inp.minInteractions) continue;
    (heldOut(id, inp.holdoutFraction) ? test : train).push({ fp: fingerprint(item, spec, inp.scaler), v });
  }
  let map: ContentMap | null = null;
  let holdout: HoldoutReport | null = null;
  let mapRejected: string | null = null;
  if (train.length + test.length >= MIN_FIT_ITEMS) {
    if (test.length > 0 && train.length >= MIN_FIT_ITEMS) {
      const probe = fit(train, dim, f, inp.regularization);
      const mean = new Float64Array(f);
      for (const t of train) for (let k = 0; k < f; k++) mean[k]! += t.v[k]! / train.length;
      let cos = 0;
      let base = 0;
      for (const t of test) {
        cos += cosine(applyContentMap(probe, t.fp), t.v);
        base += cosine(mean, t.v);
      }
      holdout = { items: test.length, cosine: cos / test.length, baselineCosine: base / test.length };
    }
    // A map that places held-out items no better than the mean vector would only blur their collaborative vectors
    // (a catalogue whose attributes say little about taste): then cold items wait for interactions instead.
    if (holdout && holdout.cosine <= holdout.baselineCosine)
      mapRejected = `held-out cosine ${holdout.cosine.toFixed(3)} is not above the mean vector's ${holdout.baselineCosine.toFixed(3)}`;
    else map = fit([...train, ...test], dim, f, inp.regularization);
  }

  const ids = new Set<string>([...inp.interactions.keys(), ...live.keys()]);
  const itemIds: string[] = [];
  const vectors = new Float32Array(ids.size * f);
  const counts = { collaborative: 0, blended: 0, content: 0, skipped: 0, deleted: 0 };
  for (const id of ids) {
    if (deleted.has(id)) {
      counts.deleted++;
      continue;
    }
    const als = inp.alsVector(id) ?? null;
    const n = inp.interactions.get(id) ?? 0;
    const item = live.get(id);
    const content =
      map && item && !(als && n >= inp.minInteractions)
        ? applyContentMap(map, fingerprint(item, spec, inp.scaler))
        : null;
    const v = blendItemVector(als, content, n, inp.minInteractions);
    if (!v) {
      counts.skipped++;
      continue;
    }
    if (!content) counts.collaborative++;
    else if (als) counts.blended++;
    else counts.content++;
    vectors.set(v, itemIds.length * f);
    itemIds.push(id);
  }
  return {
    itemIds,
    vectors: vectors.subarray(0, itemIds.length * f),
    map,
    spec,
    fittedItems: train.length + test.length,
    holdout,
    mapRejected,
    counts,
  };
}
