import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { topKExcluding } from '../../core/math/top-k.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { normalized } from '../../core/math/vectors.ts';
import { buildSnapshotInChild } from '../../jobs/index-build-process.ts';
import {
  DEFAULT_INDEX_PARAMS,
  LoadedIndex,
  SnapshotError,
  buildSnapshot,
  partitionDir,
} from '../../state/index-snapshots.ts';

const dim = 8;
function vectors(n: number, seed: number): { itemIds: string[]; vectors: Float32Array } {
  const rand = seededRandom(seed);
  return {
    itemIds: Array.from({ length: n }, (_, i) => `item-${i}`),
    vectors: Float32Array.from({ length: n * dim }, () => rand() - 0.5),
  };
}

function exactTop(
  data: { itemIds: string[]; vectors: Float32Array },
  q: number[],
  k: number,
  exclude: number[] = [],
): string[] {
  const n = data.itemIds.length;
  const scores = new Float64Array(n);
  const qn = normalized(q);
  for (let i = 0; i < n; i++) {
    const v = normalized(data.vectors.subarray(i * dim, (i + 1) * dim));
    scores[i] = v.reduce((s, x, d) => s + x * qn[d]!, 0);
  }
  return Array.from(topKExcluding(scores, k, exclude), (i) => data.itemIds[i]!);
}

describe('HNSW index snapshots', () => {
  it('build deterministically into an immutable version and search like exact cosine on a small catalogue', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-index-'));
    const data = vectors(500, 1);
    const input = { partition: 'acme', ...data, dim, params: DEFAULT_INDEX_PARAMS, sources: { als: 'als-test' } };
    const first = await buildSnapshot(root, input);
    const again = await buildSnapshot(root, input);
    expect(again.version).toBe(first.version);
    expect(first).toMatchObject({ partition: 'acme', count: 500, dim, space: 'cosine', sources: { als: 'als-test' } });

    const loaded = await LoadedIndex.load(root, 'acme', first.version);
    const rand = seededRandom(2);
    for (let t = 0; t < 20; t++) {
      const q = Array.from({ length: dim }, () => rand() - 0.5);
      expect(loaded.search(q, 10).map((h) => h.itemId)).toEqual(exactTop(data, q, 10));
    }
  });

  it('widens the search when exclusions remove candidates', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-index-'));
    const data = vectors(300, 3);
    const { version } = await buildSnapshot(root, {
      partition: 'acme',
      ...data,
      dim,
      params: DEFAULT_INDEX_PARAMS,
      sources: {},
    });
    const loaded = await LoadedIndex.load(root, 'acme', version);
    const q = Array.from({ length: dim }, (_, d) => (d % 2 === 0 ? 1 : -1));
    const top50 = exactTop(data, q, 50);
    const exclude = new Set(top50.slice(0, 40));
    const hits = loaded.search(q, 10, exclude);
    expect(hits).toHaveLength(10);
    expect(hits.map((h) => h.itemId)).toEqual(top50.slice(40, 50));
    expect(loaded.search(q, 1000)).toHaveLength(300); // more than the index holds: all of it
  });

  it('refuses a snapshot whose files do not match the manifest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-index-'));
    const { version } = await buildSnapshot(root, {
      partition: 'acme',
      ...vectors(50, 4),
      dim,
      params: DEFAULT_INDEX_PARAMS,
      sources: {},
    });
    await writeFile(
      join(partitionDir(root, 'acme'), version, 'labels.json'),
      JSON.stringify(Array.from({ length: 50 }, (_, i) => `evil-${i}`)),
    );
    await expect(LoadedIndex.load(root, 'acme', version)).rejects.toThrow(SnapshotError);
    await expect(LoadedIndex.load(root, 'acme', 'idx-0000000000000000')).rejects.toThrow(/unreadable manifest/);
    await expect(
      buildSnapshot(root, {
        partition: 'Bad/Partition',
        ...vectors(5, 5),
        dim,
        params: DEFAULT_INDEX_PARAMS,
        sources: {},
      }),
    ).rejects.toThrow(SnapshotError);
  });

  it("builds off the caller's event loop, in a child process", async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-index-'));
    const data = vectors(200, 6);
    const manifest = await buildSnapshotInChild(root, {
      partition: 'community',
      ...data,
      dim,
      params: DEFAULT_INDEX_PARAMS,
      sources: {},
    });
    const loaded = await LoadedIndex.load(root, 'community', manifest.version);
    expect(loaded.manifest.count).toBe(200);
  });
});

describe('maximum inner product through the cosine index', () => {
  it('ranks items by dot product with the query, not by cosine', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-index-'));
    const data = vectors(400, 9);
    // give items very different norms, so dot and cosine orders differ
    const rand = seededRandom(10);
    for (let i = 0; i < 400; i++) {
      const s = 0.1 + rand() * 5;
      for (let d = 0; d < dim; d++) data.vectors[i * dim + d]! *= s;
    }
    const { version } = await buildSnapshot(root, {
      partition: 'mips',
      ...data,
      dim,
      params: DEFAULT_INDEX_PARAMS,
      sources: {},
      transform: 'mips',
    });
    const loaded = await LoadedIndex.load(root, 'mips', version);
    expect(loaded.manifest).toMatchObject({ transform: 'mips', dim: dim + 1 });
    for (let t = 0; t < 10; t++) {
      const q = Array.from({ length: dim }, () => rand() - 0.5);
      const dots = new Float64Array(400);
      for (let i = 0; i < 400; i++) dots[i] = q.reduce((s, x, d) => s + x * data.vectors[i * dim + d]!, 0);
      const exactByDot = Array.from(topKExcluding(dots, 10, []), (i) => data.itemIds[i]!);
      const hits = loaded.search(q, 10);
      expect(hits.map((h) => h.itemId)).toEqual(exactByDot);
      expect(hits[0]!.score).toBeCloseTo(dots[Number(exactByDot[0]!.slice(5))]!, 4); // reported as the dot product
    }
  });
});

describe('live deletions', () => {
  it('markDelete drops an item from every search until it is upserted again', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-index-'));
    const data = vectors(200, 7);
    const manifest = await buildSnapshot(root, {
      partition: 'acme',
      ...data,
      dim,
      params: DEFAULT_INDEX_PARAMS,
      sources: {},
    });
    const index = await LoadedIndex.load(root, 'acme', manifest.version);
    const q = Array.from(data.vectors.subarray(0, dim)); // item-0's own vector: its nearest neighbour is itself
    expect(index.search(q, 1)[0]!.itemId).toBe('item-0');
    expect(index.markDelete('item-0')).toBe(true);
    expect(index.markDelete('item-0')).toBe(false);
    expect(index.markDelete('not-there')).toBe(false);
    expect(index.has('item-0')).toBe(false);
    expect(index.size).toBe(199);
    expect(index.nearest(q, 200).map((h) => h.itemId)).not.toContain('item-0');
    expect(index.search(q, 199)).toHaveLength(199); // the pool widens past the hole
    index.upsert('item-0', q);
    expect(index.search(q, 1)[0]!.itemId).toBe('item-0');
    expect(index.size).toBe(200);
  });
});
