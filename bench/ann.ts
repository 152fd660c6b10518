// ANN retrieval quality and speed: recall@100 of the HNSW index against exact cosine search, query latency p50/p99,
// and build time, on real ALS item factors (ml-latest-small, queries = every user's vector) and on a generated
// clustered catalogue. Prints JSON; progress on stderr.
//   npm run bench:ann -- [--synthetic-items 100000] [--queries 1000] [--out file]
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_ALS_PARAMS, trainAls } from '../core/models/als.ts';
import { topKExcluding } from '../core/math/top-k.ts';
import { seededRandom } from '../core/math/seeded-random.ts';
import { normalized } from '../core/math/vectors.ts';
import { loadMovieLens } from '../datasets/movielens.ts';
import { DEFAULT_INDEX_PARAMS, LoadedIndex, buildSnapshot } from '../state/index-snapshots.ts';
import { machine, printReport, quantile } from '../test/support/bench-report.ts';
import { ratingMatrix } from '../test/support/rating-matrix.ts';

const opts = new Command('bench:ann')
  .option('--movielens <dir>', 'ml-latest-small directory', '../shared/datasets/ml-latest-small')
  .option('--synthetic-items <n>', 'generated catalogue size', (v) => Number(v), 100_000)
  .option('--queries <n>', 'queries against the generated catalogue', (v) => Number(v), 1000)
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ movielens: string; syntheticItems: number; queries: number; out?: string }>();
const progress = (m: string) => process.stderr.write(`bench:ann: ${m}\n`);
const K = 100;

async function measure(
  name: string,
  itemVectors: Float64Array,
  nItems: number,
  dim: number,
  queries: Float64Array,
  nQueries: number,
) {
  const root = mkdtempSync(join(tmpdir(), 'rs-bench-ann-'));
  const itemIds = Array.from({ length: nItems }, (_, i) => String(i));
  progress(`${name}: building an index of ${nItems} x ${dim}`);
  const manifest = await buildSnapshot(root, {
    partition: 'bench',
    itemIds,
    vectors: itemVectors,
    dim,
    params: DEFAULT_INDEX_PARAMS,
    sources: {},
  });
  const index = await LoadedIndex.load(root, 'bench', manifest.version);
  // exact reference: cosine = dot with unit item vectors
  const unit = new Float64Array(nItems * dim);
  for (let i = 0; i < nItems; i++) unit.set(normalized(itemVectors.subarray(i * dim, (i + 1) * dim)), i * dim);
  const scores = new Float64Array(nItems);
  const exact: Set<string>[] = [];
  for (let q = 0; q < nQueries; q++) {
    const qv = queries.subarray(q * dim, (q + 1) * dim);
    for (let i = 0; i < nItems; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += unit[i * dim + d]! * qv[d]!;
      scores[i] = s;
    }
    exact.push(new Set(Array.from(topKExcluding(scores, K, []), String)));
  }
  const byEf: Record<string, { recallAt100: number; p50Ms: number; p99Ms: number }> = {};
  for (const ef of [50, 100, 200, 400]) {
    index.setEfSearch(ef);
    const times: number[] = [];
    let found = 0;
    for (let q = 0; q < nQueries; q++) {
      const qv = queries.subarray(q * dim, (q + 1) * dim);
      const t = performance.now();
      const hits = index.search(qv, K);
      times.push(performance.now() - t);
      for (const h of hits) if (exact[q]!.has(h.itemId)) found++;
    }
    byEf[`ef${ef}`] = {
      recallAt100: +(found / (nQueries * K)).toFixed(4),
      p50Ms: +quantile(times, 0.5).toFixed(3),
      p99Ms: +quantile(times, 0.99).toFixed(3),
    };
  }
  return {
    items: nItems,
    dim,
    queries: nQueries,
    buildSeconds: +manifest.buildSeconds.toFixed(2),
    indexBytes: manifest.files.index.bytes,
    byEf,
  };
}

// 1. real factors
progress('training ALS on ml-latest-small');
const ml = loadMovieLens(opts.movielens);
const model = trainAls(ratingMatrix(ml.log), DEFAULT_ALS_PARAMS);
const real = await measure(
  'ml-latest-small ALS factors',
  model.itemFactors,
  model.nItems,
  model.factors,
  model.userFactors,
  model.nUsers,
);

// 2. generated clustered catalogue
const dim = 64;
const rand = seededRandom(17);
const centres = Array.from({ length: 256 }, () => Float64Array.from({ length: dim }, () => rand() * 2 - 1));
const synth = new Float64Array(opts.syntheticItems * dim);
for (let i = 0; i < opts.syntheticItems; i++) {
  const c = centres[Math.floor(rand() * centres.length)]!;
  for (let d = 0; d < dim; d++) synth[i * dim + d] = c[d]! + (rand() - 0.5) * 0.6;
}
const synthQueries = new Float64Array(opts.queries * dim);
for (let q = 0; q < opts.queries; q++) {
  const c = centres[Math.floor(rand() * centres.length)]!;
  for (let d = 0; d < dim; d++) synthQueries[q * dim + d] = c[d]! + (rand() - 0.5) * 0.6;
}
const generated = await measure('generated', synth, opts.syntheticItems, dim, synthQueries, opts.queries);

printReport(
  { benchmark: 'ann', k: K, params: DEFAULT_INDEX_PARAMS, machine: machine(), mlLatestSmall: real, generated },
  opts.out,
);
