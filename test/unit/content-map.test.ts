import { describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../core/catalog.ts';
import { embedItems } from '../../core/embeddings/item-embeddings.ts';
import {
  applyContentMap,
  blendItemVector,
  decodeContentMap,
  encodeContentMap,
  fitContentMap,
} from '../../core/embeddings/content-map.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

describe('content map', () => {
  it('recovers a linear relation between fingerprints and factors', () => {
    const rand = seededRandom(3);
    const n = 400;
    const d = 6;
    const f = 3;
    const truth = Float64Array.from({ length: (d + 1) * f }, () => rand() - 0.5);
    const c = Float64Array.from({ length: n * d }, () => rand() - 0.5);
    const v = new Float64Array(n * f);
    for (let i = 0; i < n; i++)
      for (let k = 0; k < f; k++) {
        let s = truth[d * f + k]!;
        for (let r = 0; r < d; r++) s += c[i * d + r]! * truth[r * f + k]!;
        v[i * f + k] = s;
      }
    const map = fitContentMap(c, v, n, d, f, 1e-6);
    for (let i = 0; i < truth.length; i++) expect(map.weights[i]).toBeCloseTo(truth[i]!, 4);
    const probe = c.subarray(0, d);
    const out = applyContentMap(map, probe);
    for (let k = 0; k < f; k++) expect(out[k]).toBeCloseTo(v[k]!, 4);
    expect(decodeContentMap(encodeContentMap(map))).toEqual(map);
    expect(() => applyContentMap(map, [1, 2])).toThrow(/fingerprint of 2/);
  });

  it('blends toward the content vector in proportion to missing interactions', () => {
    const als = Float64Array.of(1, 0);
    const content = Float64Array.of(0, 1);
    expect(blendItemVector(als, content, 10, 5)).toBe(als);
    expect(Array.from(blendItemVector(als, content, 1, 4)!)).toEqual([0.25, 0.75]);
    expect(blendItemVector(null, content, 0, 4)).toBe(content);
    expect(blendItemVector(als, null, 0, 4)).toBe(als);
    expect(blendItemVector(null, null, 0, 4)).toBeNull();
  });
});

describe('retcon item embeddings', () => {
  // Two genres whose items sit in opposite corners of a 2-factor space: a map fitted on warm items must place a cold
  // item by its genre.
  const genreVector = { action: [1, 0.1], drama: [0.1, 1] } as const;
  const rand = seededRandom(9);
  const catalog: CatalogItem[] = [];
  const als = new Map<string, Float64Array>();
  const interactions = new Map<string, number>();
  for (let i = 0; i < 200; i++) {
    const genre = i % 2 === 0 ? 'action' : 'drama';
    const id = `m${i}`;
    catalog.push({
      tenant: 't',
      itemId: id,
      attributes: { genres: [genre], title: [`${genre} film ${i}`] },
      numeric: {},
      createdAt: 1e12,
      updatedAt: 1e12,
      deleted: false,
    });
    if (i < 160) {
      als.set(
        id,
        Float64Array.from(genreVector[genre], (x) => x + (rand() - 0.5) * 0.1),
      );
      interactions.set(id, 20);
    }
  }
  catalog.push({
    tenant: 't',
    itemId: 'gone',
    attributes: { genres: ['action'] },
    numeric: {},
    createdAt: 1e12,
    updatedAt: 1e12,
    deleted: true,
  });
  als.set('gone', Float64Array.of(1, 0));
  interactions.set('gone', 50);
  als.set('no-record', Float64Array.of(0.5, 0.5));
  interactions.set('no-record', 3);
  interactions.set('nothing', 1);

  const emb = embedItems({
    factors: 2,
    alsVector: (id) => als.get(id),
    interactions,
    catalog,
    scaler: null,
    textAttributes: ['title'],
    minInteractions: 5,
    regularization: 0.1,
    holdoutFraction: 0.2,
  });

  it("keeps warm items' vectors, embeds cold ones by content, leaves out deleted items and items with nothing", () => {
    expect(emb.counts).toEqual({ collaborative: 161, blended: 0, content: 40, skipped: 1, deleted: 1 });
    expect(emb.itemIds).not.toContain('gone');
    expect(emb.itemIds).not.toContain('nothing');
    const at = (id: string) =>
      Array.from(emb.vectors.subarray(emb.itemIds.indexOf(id) * 2, emb.itemIds.indexOf(id) * 2 + 2));
    expect(at('m0')).toEqual(Array.from(Float32Array.from(als.get('m0')!)));
    const [x, y] = at('m170'); // a cold action film
    expect(x).toBeGreaterThan(y! + 0.5);
    const [x2, y2] = at('m171'); // a cold drama
    expect(y2).toBeGreaterThan(x2! + 0.5);
  });

  it('reports the map against the mean-vector baseline on held-out warm items', () => {
    expect(emb.fittedItems).toBe(160);
    expect(emb.holdout!.items).toBeGreaterThan(10);
    expect(emb.holdout!.cosine).toBeGreaterThan(0.95);
    expect(emb.holdout!.baselineCosine).toBeLessThan(0.9);
  });
});

describe('a catalogue whose attributes say nothing about taste', () => {
  it('gets no content map: its held-out items are placed no better than by the mean vector', () => {
    const rand = seededRandom(4);
    const catalog: CatalogItem[] = [];
    const als = new Map<string, Float64Array>();
    const interactions = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const id = `x${i}`;
      // the colour is drawn independently of the item's vector
      catalog.push({
        tenant: 't',
        itemId: id,
        attributes: { colour: [`c${Math.floor(rand() * 40)}`] },
        numeric: {},
        createdAt: 1e12,
        updatedAt: 1e12,
        deleted: false,
      });
      als.set(
        id,
        Float64Array.from({ length: 4 }, () => rand() - 0.5),
      );
      interactions.set(id, i < 250 ? 20 : 2);
    }
    const emb = embedItems({
      factors: 4,
      alsVector: (id) => als.get(id),
      interactions,
      catalog,
      scaler: null,
      textAttributes: [],
      minInteractions: 5,
      regularization: 10,
      holdoutFraction: 0.2,
    });
    expect(emb.map).toBeNull();
    expect(emb.mapRejected).toMatch(/^held-out cosine -?\d\.\d{3} is not above the mean vector's/);
    // the few-interaction items keep their own vectors rather than a blend toward noise
    expect(emb.counts).toMatchObject({ collaborative: 300, blended: 0, content: 0 });
  });
});
