// HNSW index snapshots on disk, one directory per version of a partition (a tenant, or the community partition):
//   <root>/index/<partition>/<version>/index.hnsw   the hnswlib graph (cosine space over the item vectors)
//                                      labels.json  label -> item id (labels are dense 0..n-1: hnswlib labels are 32-bit)
//                                      manifest.json versions of the models used, counts, parameters, build time, and
//                                                    the sha256 of both files
// The version is derived from the content (idx-<sha256 of the two files' hashes>), so a rebuild of the same vectors with
// the same parameters is the same version. Loading re-checks both checksums before trusting a byte, so a corrupted or
// half-copied snapshot is refused and the caller keeps serving what it had.
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile, access } from 'node:fs/promises';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { mipsItems, mipsQuery, normalized } from '../core/math/vectors.ts';

const { HierarchicalNSW } = hnswlib;
type Hnsw = InstanceType<typeof HierarchicalNSW>;

export interface IndexParams {
  m: number;
  efConstruction: number;
  efSearch: number;
  seed: number;
}

export const DEFAULT_INDEX_PARAMS: IndexParams = { m: 16, efConstruction: 200, efSearch: 100, seed: 100 };

export interface IndexManifest {
  format: 1;
  version: string;
  partition: string;
  dim: number;
  count: number;
  space: 'cosine';
  /**
   * 'mips': items were stored as [y, sqrt(M² − |y|²)] (core/math/vectors.ts) so the cosine order is the dot-product order;
   * queries are extended with a 0 and scores reported as dot products. 'none': plain cosine.
   */
  transform: 'mips' | 'none';
  /** M, the largest item norm (mips only). */
  maxNorm: number;
  params: IndexParams;
  /** Model versions the vectors came from (e.g. { als: 'als-…', scaler: 'scaler-…' }). */
  sources: Record<string, string>;
  builtAt: string;
  buildSeconds: number;
  files: { index: { sha256: string; bytes: number }; labels: { sha256: string; bytes: number } };
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

const PARTITION = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

export function partitionDir(root: string, partition: string): string {
  if (!PARTITION.test(partition))
    throw new SnapshotError(`partition ${JSON.stringify(partition)} must match ${PARTITION}`);
  return join(root, 'index', partition);
}

export interface IndexInput {
  partition: string;
  itemIds: string[];
  /** Row-major, itemIds.length x dim. */
  vectors: Float32Array | Float64Array;
  dim: number;
  params: IndexParams;
  sources: Record<string, string>;
  /** Default 'none' (cosine). 'mips' for dot-product retrieval (ALS scores). */
  transform?: 'mips' | 'none';
}

/** Builds the graph and writes a snapshot (CPU-heavy: run it off the serving event loop). */
export async function buildSnapshot(
  root: string,
  input: IndexInput,
  onProgress?: (done: number) => void,
): Promise<IndexManifest> {
  const { itemIds, params } = input;
  const transform = input.transform ?? 'none';
  if (input.vectors.length !== itemIds.length * input.dim)
    throw new SnapshotError(`${input.vectors.length} values for ${itemIds.length} items of dimension ${input.dim}`);
  if (new Set(itemIds).size !== itemIds.length) throw new SnapshotError('item ids must be unique');
  const dir = partitionDir(root, input.partition);
  const started = performance.now();
  const { vectors, dim, maxNorm } =
    transform === 'mips'
      ? mipsItems(input.vectors, itemIds.length, input.dim)
      : { vectors: input.vectors, dim: input.dim, maxNorm: 0 };
  const index = new HierarchicalNSW('cosine', dim);
  index.initIndex({
    maxElements: Math.max(1, itemIds.length),
    m: params.m,
    efConstruction: params.efConstruction,
    randomSeed: params.seed,
  });
  for (let label = 0; label < itemIds.length; label++) {
    index.addPoint(normalized(vectors.subarray(label * dim, (label + 1) * dim)), label);
    if (onProgress && label % 10_000 === 9_999) onProgress(label + 1);
  }
  const buildSeconds = (performance.now() - started) / 1000;

  await mkdir(dir, { recursive: true });
  const staging = join(dir, `.staging-${process.pid}-${Date.now()}`);
  await mkdir(staging);
  const indexPath = join(staging, 'index.hnsw');
  await index.writeIndex(indexPath);
  const indexBytes = await readFile(indexPath);
  const labels = Buffer.from(JSON.stringify(itemIds));
  await writeFile(join(staging, 'labels.json'), labels);
  const files = {
    index: { sha256: sha256(indexBytes), bytes: indexBytes.length },
    labels: { sha256: sha256(labels), bytes: labels.length },
  };
  const version = `idx-${sha256(Buffer.from(`${files.index.sha256}:${files.labels.sha256}`)).slice(0, 16)}`;
  const manifest: IndexManifest = {
    format: 1,
    version,
    partition: input.partition,
    dim,
    count: itemIds.length,
    space: 'cosine',
    transform,
    maxNorm,
    params,
    sources: input.sources,
    builtAt: new Date().toISOString(),
    buildSeconds,
    files,
  };
  await writeFile(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2));
  const final = join(dir, version);
  if (await exists(final)) {
    await rm(staging, { recursive: true, force: true }); // the same content is already there: immutable, keep it
    return JSON.parse(await readFile(join(final, 'manifest.json'), 'utf8')) as IndexManifest;
  }
  await rename(staging, final); // atomic: a reader never sees a partial version directory
  return manifest;
}

export interface SearchHit {
  itemId: string;
  /** Cosine similarity, or the dot product for a 'mips' index. */
  score: number;
}

/** A verified, loaded snapshot. Searches block the event loop for well under a millisecond at ef ~100. */
export class LoadedIndex {
  private efSearch: number;
  private readonly labels: Map<string, number>;
  /** Labels removed from the catalogue since the snapshot (hnswlib skips marked points in searches). */
  private readonly deleted = new Set<number>();

  private constructor(
    readonly manifest: IndexManifest,
    private readonly index: Hnsw,
    private readonly itemIds: string[],
  ) {
    this.efSearch = manifest.params.efSearch;
    this.labels = new Map(itemIds.map((id, i) => [id, i]));
  }

  /**
   * Adds or updates one item in the loaded graph (in memory; the next retcon makes it durable): how an item that is new
   * or changed since the snapshot becomes retrievable within seconds. For a 'mips' index the vector is extended with
   * the snapshot's M; a vector longer than M is clamped (its extra coordinate 0), which underrates it slightly until
   * the next rebuild. Blocks the event loop for a fraction of a millisecond per item.
   */
  upsert(itemId: string, vector: ArrayLike<number>): void {
    if (vector.length !== (this.manifest.transform === 'mips' ? this.manifest.dim - 1 : this.manifest.dim))
      throw new SnapshotError(`vector of ${vector.length} for an index of dimension ${this.manifest.dim}`);
    let label = this.labels.get(itemId);
    if (label === undefined) {
      label = this.itemIds.length;
      if (label >= this.index.getMaxElements())
        this.index.resizeIndex(Math.ceil(this.index.getMaxElements() * 1.25) + 16);
      this.itemIds.push(itemId);
      this.labels.set(itemId, label);
    }
    let point: number[];
    if (this.manifest.transform === 'mips') {
      let n = 0;
      for (let i = 0; i < vector.length; i++) n += vector[i]! ** 2;
      point = [...Array.from(vector), Math.sqrt(Math.max(0, this.manifest.maxNorm ** 2 - n))];
    } else {
      point = Array.from(vector);
    }
    if (this.deleted.delete(label)) this.index.unmarkDelete(label); // an item back in the catalogue
    this.index.addPoint(normalized(point), label); // re-adding a label replaces its vector
  }

  /** Removes an item from results (in memory; the next retcon leaves it out). False when it is not in the index. */
  markDelete(itemId: string): boolean {
    const label = this.labels.get(itemId);
    if (label === undefined || this.deleted.has(label)) return false;
    this.index.markDelete(label);
    this.deleted.add(label);
    return true;
  }

  /** Items currently retrievable (snapshot + upserts − deletions). */
  get size(): number {
    return this.itemIds.length - this.deleted.size;
  }

  has(itemId: string): boolean {
    const label = this.labels.get(itemId);
    return label !== undefined && !this.deleted.has(label);
  }

  /** The search-time candidate list size: recall against latency. */
  setEfSearch(ef: number): void {
    this.efSearch = ef;
    this.index.setEf(ef);
  }

  static async load(root: string, partition: string, version: string): Promise<LoadedIndex> {
    const dir = join(partitionDir(root, partition), version);
    let manifest: IndexManifest;
    try {
      manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as IndexManifest;
    } catch (err) {
      throw new SnapshotError(`snapshot ${partition}/${version}: unreadable manifest (${(err as Error).message})`);
    }
    if (manifest.format !== 1 || manifest.version !== version || manifest.partition !== partition)
      throw new SnapshotError(`snapshot ${partition}/${version}: manifest does not describe this snapshot`);
    const indexBytes = await readFile(join(dir, 'index.hnsw')).catch(() => Buffer.alloc(0));
    const labels = await readFile(join(dir, 'labels.json')).catch(() => Buffer.alloc(0));
    if (sha256(indexBytes) !== manifest.files.index.sha256)
      throw new SnapshotError(`snapshot ${partition}/${version}: index.hnsw checksum mismatch`);
    if (sha256(labels) !== manifest.files.labels.sha256)
      throw new SnapshotError(`snapshot ${partition}/${version}: labels.json checksum mismatch`);
    const itemIds = JSON.parse(labels.toString('utf8')) as string[];
    const index = new HierarchicalNSW('cosine', manifest.dim);
    await index.readIndex(join(dir, 'index.hnsw'));
    if (
      (manifest.transform !== 'mips' && manifest.transform !== 'none') ||
      index.getCurrentCount() !== manifest.count ||
      itemIds.length !== manifest.count
    )
      throw new SnapshotError(
        `snapshot ${partition}/${version}: ${index.getCurrentCount()} points, ${itemIds.length} labels, manifest says ${manifest.count}`,
      );
    index.setEf(manifest.params.efSearch);
    return new LoadedIndex(manifest, index, itemIds);
  }

  /**
   * The k nearest items by cosine, skipping `exclude` (and deleted items). Filtering happens after the search (a JS
   * filter callback makes hnswlib ~10x slower), widening the candidate pool until k survive or the index is exhausted.
   */
  search(query: ArrayLike<number>, k: number, exclude: ReadonlySet<string> = new Set()): SearchHit[] {
    let want = Math.min(this.itemIds.length, k + exclude.size);
    for (;;) {
      const pool = this.nearest(query, want);
      const hits = pool.filter((h) => !exclude.has(h.itemId)).slice(0, k);
      if (hits.length >= k || want >= this.itemIds.length) return hits;
      want = Math.min(this.itemIds.length, want * 2);
    }
  }

  /** The n nearest live items, best first: the unfiltered pool a caller filters and widens itself. */
  nearest(query: ArrayLike<number>, n: number): SearchHit[] {
    const mips = this.manifest.transform === 'mips';
    const q = normalized(mips ? mipsQuery(query) : query);
    // reported score: the dot product for mips (cos · M · |q|), else the cosine
    let scale = 1;
    if (mips) {
      let norm = 0;
      for (let i = 0; i < query.length; i++) norm += query[i]! ** 2;
      scale = this.manifest.maxNorm * Math.sqrt(norm);
    }
    const want = Math.min(this.itemIds.length, n);
    if (want <= 0) return [];
    if (this.index.getEf() < want) this.index.setEf(want);
    const { neighbors, distances } = this.index.searchKnn(q, want);
    this.index.setEf(this.efSearch);
    return neighbors.map((label, j) => ({ itemId: this.itemIds[label]!, score: (1 - distances[j]!) * scale }));
  }
}
