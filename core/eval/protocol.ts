// The offline evaluation protocol: one split, every model, one run, the same users and relevant items for all.
//
// - History of a user = their train ∪ test-early rows. Every model recommends top-K excluding the whole history
//   (any rating: the user has seen those items).
// - Relevant items = the user's test-late items rated >= `relevantFrom` (4 by default: "liked") that are not in
//   their history. The same definition for every model.
// - Evaluated users = users with at least one relevant item and a non-empty history. Users whose first rating falls
//   in test-late are cold starts that no personalised model can address; they are counted and skipped.
// - Training data: train ∪ test-early for popularity, item-kNN, EASE and "ALS batch (full retrain)". The fold-in
//   row trains ALS on train only, then streams test-early in time order, in batches of FOLD_IN_BATCH rows, through
//   the same fold-in as processors/als-fold-in.ts: the batch's users re-solved from all their rows so far (item factors
//   fixed), then its items from all their rows (user factors fixed), then its users again. Users and items new since
//   train are created this way. "ALS batch (train only, no fold-in)" is the same train-only model without the
//   stream, to show what fold-in adds.
// - Interaction values come from one rating mapping (rating-values.ts) for every model that takes weights.
//
// Modules: protocol-config.ts (the models and the run's configuration), split-data.ts (history, evaluated users,
// relevant items), scoring.ts (lists and metrics), fold-in-stream.ts, funnel.ts and ltr-ranker.ts (the rows that need
// more than one fit).
import { trainAls } from '../models/als.ts';
import { recommendEase, trainEase } from '../models/ease.ts';
import { recommendItemKnn, trainItemKnn } from '../models/item-knn.ts';
import { recommendPopular, trainPopularity } from '../models/popularity-baseline.ts';
import { DEFAULT_RERANK, rerank, type RerankConfig, type RerankItem } from '../funnel/rerank.ts';
import { streamFoldIn } from './fold-in-stream.ts';
import { FUNNEL_MMR_LAMBDA, FUNNEL_POOL, reciprocalRankFusion } from './funnel.ts';
import type { ItemDistance } from './genre-distance.ts';
import type { InteractionLog } from './interaction-log.ts';
import { LTR_INNER_ROUNDS, ltrTopK, trainLtrRanker } from './ltr-ranker.ts';
import { MODEL_LABELS, MODEL_NAMES, type ModelName, type ProtocolConfig } from './protocol-config.ts';
import { matrixOf, row } from './rating-matrix.ts';
import { alsLists, recommendAll, score, type MetricsAtK } from './scoring.ts';
import { prepare } from './split-data.ts';
import type { Split } from './splits.ts';
import { timed } from './timed.ts';

export interface ModelResult {
  model: ModelName;
  label: string;
  /** Fitting on the model's training data; for the fold-in row, the train-only ALS fit. */
  trainSeconds: number;
  /** Fold-in row only: streaming every test-early row through foldInUser. */
  foldIn?: { events: number; seconds: number; meanMicros: number; usersCreated: number };
  recommendSeconds: number;
  metrics: MetricsAtK[];
}

export interface SplitReport {
  split: Split['name'];
  description: string;
  rows: { train: number; early: number; late: number };
  users: {
    train: number;
    early: number;
    late: number;
    earlyNotInTrain: number;
    evaluated: number;
    coldSkipped: number;
  };
  catalogSize: number;
  /** Dense user indices of the evaluated users, ascending. */
  evaluatedUsers: number[];
  relevant: { items: number; perUserMean: number; itemsUnseenInTrain: number };
  models: ModelResult[];
}

export type Progress = (message: string) => void;

/** Runs every configured model on one split. Pure computation; `progress` only reports. */
export function runProtocol(
  log: InteractionLog,
  split: Split,
  distance: ItemDistance,
  config: ProtocolConfig,
  progress: Progress = () => {},
): SplitReport {
  const data = prepare(log, split, config);
  const kMax = Math.max(...config.ks);
  const catalog = new Set<number>();
  for (const r of split.train) catalog.add(log.item[r]!);
  const trainItems = new Set(catalog);
  for (const r of split.early) catalog.add(log.item[r]!);
  const usersOf = (rows: Int32Array) => new Set(Array.from(rows, (r) => log.user[r]!));
  const trainUsers = usersOf(split.train);
  const earlyUsers = usersOf(split.early);
  let relevantItems = 0;
  let unseenInTrain = 0;
  for (const set of data.relevant.values()) {
    relevantItems += set.size;
    for (const i of set) if (!trainItems.has(i)) unseenInTrain++;
  }
  const report: SplitReport = {
    split: split.name,
    description: split.description,
    rows: { train: split.train.length, early: split.early.length, late: split.late.length },
    users: {
      train: trainUsers.size,
      early: earlyUsers.size,
      late: usersOf(split.late).size,
      earlyNotInTrain: [...earlyUsers].filter((u) => !trainUsers.has(u)).length,
      evaluated: data.evaluated.length,
      coldSkipped: data.coldSkipped,
    },
    catalogSize: catalog.size,
    evaluatedUsers: Array.from(data.evaluated),
    relevant: {
      items: relevantItems,
      perUserMean: data.relevant.size === 0 ? 0 : relevantItems / data.relevant.size,
      itemsUnseenInTrain: unseenInTrain,
    },
    models: [],
  };
  const add = (
    model: ModelName,
    trainSeconds: number,
    [lists, recommendSeconds]: [Int32Array[], number],
    foldIn?: ModelResult['foldIn'],
  ): void => {
    const result: ModelResult = {
      model,
      label: MODEL_LABELS[model],
      trainSeconds,
      recommendSeconds,
      metrics: score(lists, data, config.ks, catalog.size, distance),
    };
    if (foldIn) result.foldIn = foldIn;
    report.models.push(result);
    const m = result.metrics[0]!;
    progress(`${split.name}: ${result.label}: NDCG@${m.k} ${m.ndcg.toFixed(4)} (train ${trainSeconds.toFixed(2)} s)`);
  };
  const wants = (m: ModelName) => config.models.includes(m);

  if (wants('popularity')) {
    const [model, seconds] = timed(() => trainPopularity(data.history.indices, log.nItems));
    const scratch = new Float64Array(log.nItems);
    add(
      'popularity',
      seconds,
      recommendAll(data, (_, history) => recommendPopular(model, history, kMax, scratch)),
    );
  }
  if (wants('item-knn')) {
    progress(`${split.name}: training item-kNN`);
    const [model, seconds] = timed(() => trainItemKnn(data.positive, config.itemKnn));
    const scratch = new Float64Array(log.nItems);
    add(
      'item-knn',
      seconds,
      recommendAll(data, (u, history) => {
        const r = row(data.positive, u);
        return recommendItemKnn(model, r.items, r.values, history, kMax, scratch);
      }),
    );
  }
  if (wants('ease')) {
    progress(`${split.name}: training EASE`);
    const [model, seconds] = timed(() => trainEase(data.positive, config.ease));
    progress(`${split.name}: EASE covers ${model.covered.length} items (support >= ${config.ease.minItemSupport})`);
    const scratch = new Float64Array(log.nItems);
    add(
      'ease',
      seconds,
      recommendAll(data, (u, history) => {
        const r = row(data.positive, u);
        return recommendEase(model, r.items, r.values, history, kMax, scratch);
      }),
    );
  }
  if (wants('als-batch-full')) {
    progress(`${split.name}: training ALS on train+early`);
    const [model, seconds] = timed(() => trainAls(data.history, config.als));
    add('als-batch-full', seconds, alsLists(model, model.userFactors, data, kMax));
  }
  if (wants('funnel-ltr')) {
    // The ranker learns on the history alone: the split's own cut is applied again to the history (the last n rows of
    // each user's history for leave-last-n, a global time cut for temporal), its late part gives the labels and the
    // sources are fitted on the rest; then again on that rest, LTR_INNER_ROUNDS times. The test split is never seen.
    // Then the sources are refitted on the whole history and the ranker orders their candidates for the evaluated users.
    progress(`${split.name}: training the LambdaMART ranker on ${LTR_INNER_ROUNDS} inner splits of the history`);
    const [ltr, seconds] = timed(() => trainLtrRanker(log, split, config));
    progress(`${split.name}: ranker trained on ${ltr.trainQueries} inner queries, ${ltr.trainDocs} candidates`);
    add(
      'funnel-ltr',
      seconds,
      recommendAll(data, (u) => ltrTopK(log, ltr, u, kMax, config)),
    );
  }
  if (wants('funnel') || wants('funnel-mmr')) {
    // Stage 1: three retrieval sources, FUNNEL_POOL candidates each; stage 3: rank fusion; stage 4: MMR over genres.
    progress(`${split.name}: training the funnel's retrieval sources (ALS, EASE, item-kNN)`);
    const [models, seconds] = timed(() => ({
      als: trainAls(data.history, config.als),
      ease: trainEase(data.positive, config.ease),
      knn: trainItemKnn(data.positive, config.itemKnn),
    }));
    const scratch = new Float64Array(log.nItems);
    const [alsPool] = alsLists(models.als, models.als.userFactors, data, FUNNEL_POOL);
    const [easePool] = recommendAll(data, (u, history) => {
      const r = row(data.positive, u);
      return recommendEase(models.ease, r.items, r.values, history, FUNNEL_POOL, scratch);
    });
    const [knnPool] = recommendAll(data, (u, history) => {
      const r = row(data.positive, u);
      return recommendItemKnn(models.knn, r.items, r.values, history, FUNNEL_POOL, scratch);
    });
    const [fused, fuseSeconds] = timed(() =>
      alsPool.map((a, idx) => reciprocalRankFusion([a, easePool[idx]!, knnPool[idx]!], FUNNEL_POOL)),
    );
    if (wants('funnel')) add('funnel', seconds, [fused.map((l) => l.slice(0, kMax)), fuseSeconds]);
    if (wants('funnel-mmr')) {
      const cfg: RerankConfig = { ...DEFAULT_RERANK, mmrLambda: FUNNEL_MMR_LAMBDA };
      const similarity = (a: RerankItem, b: RerankItem) => 1 - distance(Number(a.itemId), Number(b.itemId));
      const noRandom = () => 0; // no exploration here: deterministic
      add(
        'funnel-mmr',
        seconds,
        timed(() =>
          fused.map((list) => {
            const pool: RerankItem[] = Array.from(list, (item, rank) => ({
              itemId: String(item),
              rank,
              source: 'fused',
              category: null,
              attributes: {},
              createdAt: null,
              shows: 0,
              clicks: 0,
            }));
            return Int32Array.from(rerank(pool, kMax, cfg, noRandom, 0, similarity), (p) => Number(p.itemId));
          }),
        ),
      );
    }
  }
  if (wants('als-train-only') || wants('als-fold-in')) {
    progress(`${split.name}: training ALS on train only`);
    const [model, seconds] = timed(() => trainAls(matrixOf(log, split.train, config.ratingValues), config.als));
    if (wants('als-train-only')) add('als-train-only', seconds, alsLists(model, model.userFactors, data, kMax));
    if (wants('als-fold-in')) {
      const stream = streamFoldIn(log, split, model, config);
      const foldIn = {
        events: split.early.length,
        seconds: stream.seconds,
        meanMicros: split.early.length === 0 ? 0 : (stream.seconds * 1e6) / split.early.length,
        usersCreated: stream.usersCreated,
      };
      add(
        'als-fold-in',
        seconds,
        alsLists({ ...model, itemFactors: stream.itemFactors }, stream.userFactors, data, kMax),
        foldIn,
      );
    }
  }
  // rows in MODEL_NAMES order, whatever order they were computed in
  report.models.sort((a, b) => MODEL_NAMES.indexOf(a.model) - MODEL_NAMES.indexOf(b.model));
  return report;
}
