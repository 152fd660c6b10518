// The learned ranker's bench: the LambdaMART funnel (ALS + EASE + item-kNN retrieval, ranker trained on inner splits
// of the history) against ALS and EASE alone on ml-latest-small, both splits, with training time and data size; plus
// the ranker's raw training speed on its own data. Prints JSON.   npm run bench:ltr -- [--data dir] [--out file]
import { Command } from 'commander';
import { DEFAULT_ALS_PARAMS } from '../core/models/als.ts';
import { DEFAULT_EASE_PARAMS } from '../core/models/ease.ts';
import { DEFAULT_ITEM_KNN_PARAMS } from '../core/models/item-knn.ts';
import { genreJaccardDistance } from '../core/eval/genre-distance.ts';
import { LTR_INNER_ROUNDS, LTR_PARAMS, LTR_POOL } from '../core/eval/ltr-ranker.ts';
import { runProtocol } from '../core/eval/protocol.ts';
import type { ProtocolConfig } from '../core/eval/protocol-config.ts';
import { LTR_FEATURES } from '../core/eval/ltr-features.ts';
import { DEFAULT_RATING_VALUES } from '../core/eval/rating-values.ts';
import { leaveLastNSplit, temporalSplit } from '../core/eval/splits.ts';
import { loadMovieLens } from '../datasets/movielens.ts';
import { machine, printReport } from '../test/support/bench-report.ts';

const opts = new Command('bench:ltr')
  .option('--data <dir>', 'ml-latest-small directory', '../shared/datasets/ml-latest-small')
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ data: string; out?: string }>();
const progress = (m: string) => process.stderr.write(`bench:ltr: ${m}\n`);
const dataset = loadMovieLens(opts.data);
const config: ProtocolConfig = {
  ks: [10],
  relevantFrom: 4,
  ratingValues: DEFAULT_RATING_VALUES,
  als: DEFAULT_ALS_PARAMS,
  ease: DEFAULT_EASE_PARAMS,
  itemKnn: DEFAULT_ITEM_KNN_PARAMS,
  models: ['als-batch-full', 'ease', 'funnel-ltr'],
};
const distance = genreJaccardDistance(dataset.genres);
const splits = [temporalSplit(dataset.log), leaveLastNSplit(dataset.log, 10)].map((split) => {
  const report = runProtocol(dataset.log, split, distance, config, progress);
  const row = (model: string) => report.models.find((m) => m.model === model)!;
  const ltr = row('funnel-ltr');
  const als = row('als-batch-full');
  // paired over the same users: is the funnel's difference to ALS (and to EASE) more than noise?
  const paired = (other: typeof ltr) => {
    const diffs = ltr.metrics[0]!.ndcgByUser.map((x, i) => x - other.metrics[0]!.ndcgByUser[i]!);
    const mean = diffs.reduce((s, x) => s + x, 0) / diffs.length;
    const se = Math.sqrt(diffs.reduce((s, x) => s + (x - mean) ** 2, 0) / (diffs.length - 1) / diffs.length);
    return { mean: +mean.toFixed(4), se: +se.toFixed(4) };
  };
  return {
    split: split.name,
    users: report.users.evaluated,
    ndcgAt10: { als: als.metrics[0]!.ndcg, ease: row('ease').metrics[0]!.ndcg, funnelLtr: ltr.metrics[0]!.ndcg },
    funnelMinusAls: paired(als),
    funnelMinusEase: paired(row('ease')),
    coverage: {
      als: als.metrics[0]!.coverage,
      ease: row('ease').metrics[0]!.coverage,
      funnelLtr: ltr.metrics[0]!.coverage,
    },
    funnelTrainSeconds: +ltr.trainSeconds.toFixed(1),
    funnelRecommendSeconds: +ltr.recommendSeconds.toFixed(1),
  };
});
printReport(
  {
    benchmark: 'ltr',
    machine: machine(),
    ranker: {
      params: LTR_PARAMS,
      candidatesPerSource: LTR_POOL,
      innerRounds: LTR_INNER_ROUNDS,
      features: LTR_FEATURES,
      note: 'funnelTrainSeconds covers fitting the three sources once per inner round and once on the full history, the candidates, and the ranker',
    },
    splits,
  },
  opts.out,
);
