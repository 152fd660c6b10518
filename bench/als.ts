// ALS benchmark: batch training time (total and per iteration) on ml-latest-small and on a generated 1M-interaction
// log, and foldInUser latency over many users with realistic history sizes. Prints JSON only; progress on stderr.
//   npm run bench:als -- [--data dir] [--synthetic-interactions 1000000] [--skip-synthetic] [--out file]
import { cpus, freemem, platform, release, totalmem } from 'node:os';
import { Command } from 'commander';
import {
  DEFAULT_ALS_PARAMS,
  foldInUser,
  itemGramian,
  trainAls,
  type AlsModel,
  type AlsParams,
} from '../core/models/als.ts';
import { csrFromTriples, type SparseMatrix } from '../core/math/sparse.ts';
import { seededRandom } from '../core/math/seeded-random.ts';
import { DEFAULT_MOVIELENS_DIR, loadMovieLens } from '../datasets/movielens.ts';
import { DEFAULT_SYNTHETIC_LOG, syntheticLog } from '../test/support/synthetic-interactions.ts';
import { printReport, sortedQuantile } from '../test/support/bench-report.ts';
import { ratingMatrix } from '../test/support/rating-matrix.ts';

const opts = new Command('bench:als')
  .option('--data <dir>', 'ml-latest-small directory', DEFAULT_MOVIELENS_DIR)
  .option(
    '--synthetic-interactions <n>',
    'size of the generated log',
    (v) => Number(v),
    DEFAULT_SYNTHETIC_LOG.interactions,
  )
  .option('--skip-synthetic', 'only ml-latest-small')
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ data: string; syntheticInteractions: number; skipSynthetic?: boolean; out?: string }>();

const progress = (message: string) => process.stderr.write(`bench:als: ${message}\n`);
const round = (x: number, digits = 3) => Number(x.toFixed(digits));

function train(name: string, R: SparseMatrix, params: AlsParams) {
  progress(`${name}: training ALS on ${R.nRows} users × ${R.nCols} items, ${R.indices.length} stored cells`);
  const perIteration: number[] = [];
  const started = performance.now();
  const model = trainAls(R, params, (it, seconds) => {
    perIteration.push(round(seconds));
    progress(`${name}: iteration ${it}: ${seconds.toFixed(2)} s`);
  });
  const seconds = (performance.now() - started) / 1000;
  const nnz = R.indices.length;
  return {
    model,
    result: {
      users: R.nRows,
      items: R.nCols,
      storedCells: nnz,
      params,
      trainSeconds: round(seconds),
      secondsPerIteration: { mean: round(seconds / params.iterations), each: perIteration },
      cellsPerSecondPerIteration: Math.round((nnz * params.iterations) / seconds),
    },
  };
}

/** foldInUser latency for the given users' histories (each timed `repeats` times after a warm-up). */
function foldInLatency(model: AlsModel, R: SparseMatrix, users: Int32Array, repeats: number) {
  const gram = itemGramian(model);
  const histories = Array.from(users, (u) => {
    const out: { item: number; value: number }[] = [];
    for (let k = R.indptr[u]!; k < R.indptr[u + 1]!; k++) out.push({ item: R.indices[k]!, value: R.values[k]! });
    return out;
  });
  for (const h of histories.slice(0, 200)) foldInUser(model, gram, h, DEFAULT_ALS_PARAMS);
  const micros = new Float64Array(histories.length * repeats);
  let n = 0;
  for (let r = 0; r < repeats; r++) {
    for (const h of histories) {
      const started = performance.now();
      foldInUser(model, gram, h, DEFAULT_ALS_PARAMS);
      micros[n++] = (performance.now() - started) * 1000;
    }
  }
  micros.sort();
  const sizes = Float64Array.from(histories, (h) => h.length).sort();
  return {
    calls: micros.length,
    historySize: {
      p50: sortedQuantile(sizes, 0.5),
      p90: sortedQuantile(sizes, 0.9),
      max: sizes[sizes.length - 1] ?? 0,
    },
    micros: {
      p50: round(sortedQuantile(micros, 0.5), 1),
      p90: round(sortedQuantile(micros, 0.9), 1),
      p99: round(sortedQuantile(micros, 0.99), 1),
      max: round(micros[micros.length - 1] ?? 0, 1),
    },
  };
}

/** Latency at one fixed history size: `size` random items per call. */
function foldInAtSize(model: AlsModel, size: number, calls: number) {
  const gram = itemGramian(model);
  const random = seededRandom(size);
  const histories = Array.from({ length: calls }, () =>
    Array.from({ length: size }, () => ({ item: Math.floor(random() * model.nItems), value: 1 + random() })),
  );
  for (const h of histories.slice(0, 100)) foldInUser(model, gram, h, DEFAULT_ALS_PARAMS);
  const micros = new Float64Array(calls);
  histories.forEach((h, k) => {
    const started = performance.now();
    foldInUser(model, gram, h, DEFAULT_ALS_PARAMS);
    micros[k] = (performance.now() - started) * 1000;
  });
  micros.sort();
  return {
    historySize: size,
    calls,
    micros: { p50: round(sortedQuantile(micros, 0.5), 1), p99: round(sortedQuantile(micros, 0.99), 1) },
  };
}

const cpuList = cpus();
const machine = {
  cpuModel: cpuList[0]?.model ?? 'unknown',
  cpus: cpuList.length,
  memoryGiB: round(totalmem() / 2 ** 30, 1),
  freeMemoryGiB: round(freemem() / 2 ** 30, 1),
  node: process.version,
  os: `${platform()} ${release()}`,
};

// 1. ml-latest-small, every rating, the evaluation's value mapping.
const ml = loadMovieLens(opts.data);
const mlMatrix = ratingMatrix(ml.log);
const mlRun = train('ml-latest-small', mlMatrix, DEFAULT_ALS_PARAMS);
progress('ml-latest-small: fold-in latency');
const allUsers = Int32Array.from({ length: ml.log.nUsers }, (_, u) => u);
const mlFoldIn = foldInLatency(mlRun.model, mlMatrix, allUsers, 5);
const atSize = [10, 100, 1000].map((size) => foldInAtSize(mlRun.model, size, size >= 1000 ? 300 : 2000));

// 2. generated log.
let synthetic: Record<string, unknown> | null = null;
if (!opts.skipSynthetic) {
  const params = { ...DEFAULT_SYNTHETIC_LOG, interactions: opts.syntheticInteractions };
  progress(`synthetic: generating ${params.interactions} interactions`);
  const log = syntheticLog(params);
  const R = csrFromTriples(params.users, params.items, log.users, log.items, log.values);
  const run = train('synthetic', R, DEFAULT_ALS_PARAMS);
  progress('synthetic: fold-in latency');
  const random = seededRandom(1);
  const sample = Int32Array.from({ length: 20_000 }, () => Math.floor(random() * params.users));
  synthetic = {
    generator: params,
    interactions: log.users.length,
    ...run.result,
    foldIn: foldInLatency(run.model, R, sample, 1),
  };
}

printReport(
  {
    machine,
    mlLatestSmall: { ...mlRun.result, foldIn: { realHistories: mlFoldIn, fixedHistorySize: atSize } },
    synthetic,
  },
  opts.out,
);
