// Offline evaluation on MovieLens ml-latest-small: every model under one protocol (core/eval/protocol.ts), per split,
// printed as a table and written as JSON.
//   npm run eval -- [--data dir] [--k 10,20] [--split temporal|leave-last-n|both] [--n 10] [--out path]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_ALS_PARAMS } from '../core/models/als.ts';
import { DEFAULT_EASE_PARAMS } from '../core/models/ease.ts';
import { DEFAULT_ITEM_KNN_PARAMS } from '../core/models/item-knn.ts';
import { genreJaccardDistance } from '../core/eval/genre-distance.ts';
import { runProtocol, type SplitReport } from '../core/eval/protocol.ts';
import { MODEL_NAMES, type ModelName, type ProtocolConfig } from '../core/eval/protocol-config.ts';
import { DEFAULT_RATING_VALUES } from '../core/eval/rating-values.ts';
import { leaveLastNSplit, temporalSplit, type Split } from '../core/eval/splits.ts';
import { DatasetError, DEFAULT_MOVIELENS_DIR, loadMovieLens, type MovieLensDataset } from '../datasets/movielens.ts';

interface Options {
  data: string;
  k: number[];
  split: 'temporal' | 'leave-last-n' | 'both';
  n: number;
  out: string;
  models: ModelName[];
  factors: number;
  regularization: number;
  alpha: number;
  iterations: number;
  easeL2: number;
  knnNeighbours: number;
}

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const positiveNumber = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};
const kList = (v: string) => {
  const ks = v.split(',').map(positiveInt('--k'));
  return [...new Set(ks)].sort((a, b) => a - b);
};
const modelList = (v: string) => {
  const names = v.split(',');
  for (const n of names)
    if (!(MODEL_NAMES as readonly string[]).includes(n))
      throw new InvalidArgumentError(`unknown model ${n} (one of ${MODEL_NAMES.join(', ')})`);
  return names as ModelName[];
};

const opts = new Command('eval')
  .description('Offline evaluation of every model on MovieLens ml-latest-small.')
  .option('--data <dir>', 'directory with ratings.csv and movies.csv', DEFAULT_MOVIELENS_DIR)
  .option('--k <list>', 'cut-offs, comma-separated', kList, [10, 20])
  .addOption(new Option('--split <which>', 'which split').choices(['temporal', 'leave-last-n', 'both']).default('both'))
  .option('--n <n>', 'leave-last-n: test rows per user', positiveInt('--n'), 10)
  .option('--out <path>', 'JSON results', '.rankstream/eval/ml-latest-small.json')
  .option('--models <list>', 'subset of models, comma-separated', modelList, [...MODEL_NAMES])
  .option('--factors <n>', 'ALS factors', positiveInt('--factors'), DEFAULT_ALS_PARAMS.factors)
  .option('--regularization <x>', 'ALS λ', positiveNumber('--regularization'), DEFAULT_ALS_PARAMS.regularization)
  .option('--alpha <x>', 'ALS confidence slope', positiveNumber('--alpha'), DEFAULT_ALS_PARAMS.alpha)
  .option('--iterations <n>', 'ALS sweeps', positiveInt('--iterations'), DEFAULT_ALS_PARAMS.iterations)
  .option('--ease-l2 <x>', 'EASE λ', positiveNumber('--ease-l2'), DEFAULT_EASE_PARAMS.l2)
  .option(
    '--knn-neighbours <n>',
    'item-kNN neighbours per item',
    positiveInt('--knn-neighbours'),
    DEFAULT_ITEM_KNN_PARAMS.neighbours,
  )
  .parse()
  .opts<Options>();

const progress = (message: string) => console.error(`eval: ${message}`);
const started = performance.now();

let dataset: MovieLensDataset;
try {
  dataset = loadMovieLens(opts.data);
} catch (e) {
  if (e instanceof DatasetError) {
    console.error(`eval: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
const { log } = dataset;
const config: ProtocolConfig = {
  ks: opts.k,
  relevantFrom: 4,
  ratingValues: DEFAULT_RATING_VALUES,
  als: {
    ...DEFAULT_ALS_PARAMS,
    factors: opts.factors,
    regularization: opts.regularization,
    alpha: opts.alpha,
    iterations: opts.iterations,
  },
  ease: { ...DEFAULT_EASE_PARAMS, l2: opts.easeL2 },
  itemKnn: { ...DEFAULT_ITEM_KNN_PARAMS, neighbours: opts.knnNeighbours },
  models: opts.models,
};

let minTime = Infinity;
let maxTime = -Infinity;
for (const t of log.time) {
  minTime = Math.min(minTime, t);
  maxTime = Math.max(maxTime, t);
}
const ratedItems = new Set(log.item).size;
const day = (s: number) => new Date(s * 1000).toISOString().slice(0, 10);
console.log(
  `dataset ${dataset.dir}: ${log.user.length.toLocaleString('en')} ratings, ${log.nUsers} users, ${ratedItems.toLocaleString('en')} rated of ${log.nItems.toLocaleString('en')} movies, ${day(minTime)} .. ${day(maxTime)}`,
);
console.log(
  `relevant = test-late rating >= ${config.relevantFrom} not in history; values: rating >= ${config.ratingValues.positiveFrom} or <= ${config.ratingValues.negativeUpTo} -> rating - ${config.ratingValues.neutral}, else 0`,
);

const splits: Split[] = [];
if (opts.split !== 'leave-last-n') splits.push(temporalSplit(log));
if (opts.split !== 'temporal') splits.push(leaveLastNSplit(log, opts.n));

const distance = genreJaccardDistance(dataset.genres);
const reports: SplitReport[] = [];
for (const split of splits) {
  const report = runProtocol(log, split, distance, config, progress);
  reports.push(report);
  printReport(report);
}

const out = resolve(opts.out);
mkdirSync(dirname(out), { recursive: true });
const seconds = (performance.now() - started) / 1000;
writeFileSync(
  out,
  JSON.stringify(
    {
      dataset: {
        dir: dataset.dir,
        ratings: log.user.length,
        users: log.nUsers,
        movies: log.nItems,
        ratedMovies: ratedItems,
        from: day(minTime),
        to: day(maxTime),
      },
      config,
      splits: reports,
      node: process.version,
      seconds,
    },
    null,
    2,
  ) + '\n',
);
console.log(`\nresults: ${out} (${seconds.toFixed(1)} s in all)`);

/** Mean and standard error of the per-user differences a - b. */
function pairedDifference(a: readonly number[], b: readonly number[]): { mean: number; stdErr: number } {
  const n = a.length;
  if (n === 0) return { mean: 0, stdErr: 0 };
  const diffs = a.map((x, i) => x - b[i]!);
  const mean = diffs.reduce((s, x) => s + x, 0) / n;
  const variance = n < 2 ? 0 : diffs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
  return { mean, stdErr: Math.sqrt(variance / n) };
}

function printReport(r: SplitReport): void {
  console.log(`\n== split ${r.split}: ${r.description}`);
  console.log(
    `rows train ${r.rows.train} / test-early ${r.rows.early} / test-late ${r.rows.late}; users train ${r.users.train}, test-early ${r.users.early} ` +
      `(${r.users.earlyNotInTrain} new since train), test-late ${r.users.late}; evaluated ${r.users.evaluated} (cold-start skipped ${r.users.coldSkipped}); ` +
      `relevant items ${r.relevant.items} (${r.relevant.perUserMean.toFixed(1)}/user, ${r.relevant.itemsUnseenInTrain} first seen after train); catalog ${r.catalogSize}`,
  );
  for (const [idx, k] of opts.k.entries()) {
    const header = ['model', `P@${k}`, `R@${k}`, `NDCG@${k}`, '±se', `MAP@${k}`, `MRR@${k}`, 'cov', 'ILD', 'train s'];
    const rows = r.models.map((m) => {
      const x = m.metrics[idx]!;
      const trainS = m.foldIn
        ? `${m.trainSeconds.toFixed(1)}+${m.foldIn.seconds.toFixed(1)}`
        : m.trainSeconds.toFixed(1);
      return [m.label, x.precision, x.recall, x.ndcg, x.ndcgStdErr, x.map, x.mrr, x.coverage, x.ild]
        .map((v) => (typeof v === 'number' ? v.toFixed(4) : v))
        .concat(trainS);
    });
    const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
    const line = (cells: string[]) =>
      cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
    console.log('');
    console.log(line(header));
    for (const row of rows) console.log(line(row));
  }
  const foldInRow = r.models.find((m) => m.model === 'als-fold-in');
  const fullRow = r.models.find((m) => m.model === 'als-batch-full');
  if (foldInRow?.foldIn) {
    const f = foldInRow.foldIn;
    console.log(
      `\nfold-in: ${f.events} test-early events streamed in ${f.seconds.toFixed(2)} s (${f.meanMicros.toFixed(0)} µs each), ${f.usersCreated} users created`,
    );
  }
  if (foldInRow && fullRow) {
    for (const [idx, k] of opts.k.entries()) {
      const a = foldInRow.metrics[idx]!;
      const b = fullRow.metrics[idx]!;
      const d = pairedDifference(a.ndcgByUser, b.ndcgByUser);
      console.log(
        `fold-in / full retrain NDCG@${k}: ${(a.ndcg / b.ndcg).toFixed(3)} (paired difference ${d.mean.toFixed(4)} ± ${d.stdErr.toFixed(4)} se over ${a.ndcgByUser.length} users)`,
      );
    }
  }
}
