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
import {
  foldInItem,
  foldInUser,
  itemGramian,
  recommendAls,
  trainAls,
  updateGramian,
  type AlsModel,
  type AlsParams,
} from '../models/als.ts';
import { easeScores, recommendEase, trainEase, type EaseParams } from '../models/ease.ts';
import { itemKnnScores, recommendItemKnn, trainItemKnn, type ItemKnnParams } from '../models/item-knn.ts';
import { recommendPopular, trainPopularity } from '../models/popularity-baseline.ts';
import { csrFromTriples, type SparseMatrix } from '../math/sparse.ts';
import type { ItemDistance } from './genre-distance.ts';
import { DEFAULT_RERANK, rerank, type RerankConfig, type RerankItem } from '../funnel/rerank.ts';
import { DEFAULT_LAMBDAMART, predictLambdaMart, trainLambdaMart, type LambdaMartParams } from '../models/lambdamart.ts';
import { chronologicalOrder, type InteractionLog } from './interaction-log.ts';
import { candidateFeatures, itemRatings, itemTimes, LTR_FEATURES } from './ltr-features.ts';
import {
  averagePrecisionAtK,
  catalogCoverage,
  intraListDiversity,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  reciprocalRankAtK,
} from './metrics.ts';
import { ratingValue, type RatingValues } from './rating-values.ts';
import { splitRowsAgain, type Split } from './splits.ts';

export const MODEL_NAMES = [
  'popularity',
  'item-knn',
  'ease',
  'als-batch-full',
  'als-train-only',
  'als-fold-in',
  'funnel',
  'funnel-mmr',
  'funnel-ltr',
] as const;
export type ModelName = (typeof MODEL_NAMES)[number];

export const MODEL_LABELS: Record<ModelName, string> = {
  popularity: 'popularity',
  'item-knn': 'item-kNN',
  ease: 'EASE',
  'als-batch-full': 'ALS batch (full retrain on train+early)',
  'als-train-only': 'ALS batch (train only, no fold-in)',
  'als-fold-in': 'ALS + streaming fold-in',
  funnel: 'funnel: ALS + EASE + item-kNN retrieval, rank fusion',
  'funnel-mmr': 'funnel + MMR re-rank (genre diversity)',
  'funnel-ltr': 'funnel: 3-source retrieval, LambdaMART ranker',
};

/** Candidates each retrieval source gives the funnel rows, and their MMR trade-off. */
export const FUNNEL_POOL = 100;
export const FUNNEL_MMR_LAMBDA = 0.85;

/**
 * The learned ranker: candidates per source, rounds of inner splits it learns from, and its parameters (chosen on the
 * inner splits alone, by 2-fold cross-validation over users; see docs/ranking.md).
 */
export const LTR_POOL = 50;
export const LTR_INNER_ROUNDS = 3;
export const LTR_PARAMS: LambdaMartParams = {
  ...DEFAULT_LAMBDAMART,
  trees: 100,
  learningRate: 0.05,
  maxDepth: 4,
  minLeafDocs: 300,
  bins: 255,
};
/** The user's last history rows whose items give the "from last items" features. */
export const LTR_RECENT = 10;

interface Sources {
  als: AlsModel;
  ease: ReturnType<typeof trainEase>;
  knn: ReturnType<typeof trainItemKnn>;
  /** The matrix the sources were fitted on (its positive part feeds EASE and kNN), and item popularity in it. */
  history: SparseMatrix;
  positive: SparseMatrix;
  popularity: Float64Array;
}

function fitSources(history: SparseMatrix, config: ProtocolConfig): Sources {
  const positive = positivePart(history);
  const popularity = new Float64Array(history.nCols);
  for (const i of history.indices) popularity[i]! += 1;
  return {
    als: trainAls(history, config.als),
    ease: trainEase(positive, config.ease),
    knn: trainItemKnn(positive, config.itemKnn),
    history,
    positive,
    popularity,
  };
}

/** The sources fitted on some rows of the log, with what the ranker's features need from those rows. */
interface RankerInputs extends Sources {
  times: Float64Array[];
  ratings: ReturnType<typeof itemRatings>;
  /** Each user's rows, in time order. */
  userRows: Int32Array[];
  /** When each user asks for recommendations (seconds). */
  cut: (user: number) => number;
}

/**
 * Fits the sources on `rows`. The cut time is where the split puts the user's request: the end of the data for the
 * temporal split (one global cut), the user's own last row for leave-last-n (a cut per user).
 */
function fitRankerInputs(
  log: InteractionLog,
  rows: Int32Array,
  splitName: Split['name'],
  config: ProtocolConfig,
): RankerInputs {
  const sources = fitSources(matrixOf(log, rows, config.ratingValues), config);
  const byUser: number[][] = Array.from({ length: log.nUsers }, () => []);
  let end = -Infinity;
  for (const r of chronologicalOrder(log, rows)) {
    byUser[log.user[r]!]!.push(r);
    end = Math.max(end, log.time[r]!);
  }
  const userRows = byUser.map((l) => Int32Array.from(l));
  const cut =
    splitName === 'temporal'
      ? () => end
      : (u: number) => (userRows[u]!.length > 0 ? log.time[userRows[u]!.at(-1)!]! : end);
  return {
    ...sources,
    times: itemTimes(log, rows),
    ratings: itemRatings(log, rows, config.relevantFrom),
    userRows,
    cut,
  };
}

/** The union of every source's top LTR_POOL unseen items for a user, with the ranker's features. */
function ltrCandidates(
  log: InteractionLog,
  src: RankerInputs,
  u: number,
  config: ProtocolConfig,
): { items: number[]; features: number[][]; prior: number[] } {
  const history = row(src.history, u).items;
  const pos = row(src.positive, u);
  const f = src.als.factors;
  const alsAll = new Float64Array(src.history.nCols);
  const easeAll = new Float64Array(src.history.nCols);
  const knnAll = new Float64Array(src.history.nCols);
  const lists = [
    recommendAls(src.als, src.als.userFactors.subarray(u * f, (u + 1) * f), history, LTR_POOL, alsAll),
    recommendEase(src.ease, pos.items, pos.values, history, LTR_POOL, easeAll),
    recommendItemKnn(src.knn, pos.items, pos.values, history, LTR_POOL, knnAll),
  ];
  const rank = lists.map((l) => new Map(Array.from(l, (item, r) => [item, r] as const)));
  const items = [...new Set(lists.flatMap((l) => Array.from(l)))].sort((a, b) => a - b);
  const recent = src.userRows[u]!.slice(-LTR_RECENT);
  const recentItems = Array.from(recent, (r) => log.item[r]!);
  const recentValues = Array.from(recent, (r) => Math.max(0, ratingValue(log.rating[r]!, config.ratingValues)));
  const features = candidateFeatures(items, {
    sources: [
      { scores: alsAll, rank: rank[0]! },
      { scores: easeAll, rank: rank[1]! },
      { scores: knnAll, rank: rank[2]! },
    ],
    recent: [itemKnnScores(src.knn, recentItems, recentValues), easeScores(src.ease, recentItems, recentValues)],
    popularity: src.popularity,
    times: src.times,
    ratings: src.ratings,
    cut: src.cut(u),
  });
  // ties in the ranker's score go to the candidate the sources rank higher together
  const prior = items.map((i) => rank.reduce((s, m) => s + (m.has(i) ? 1 / (1 + m.get(i)!) : 0), 0));
  return { items, features, prior };
}

/**
 * Reciprocal rank fusion (Cormack et al. 2009): score(i) = Σ_sources 1 / (c + rank_source(i)), rank from 1. Needs no
 * score calibration across sources, which is what the funnel's retrieval sources lack.
 */
export function reciprocalRankFusion(lists: readonly ArrayLike<number>[], k: number, c = 60): Int32Array {
  const score = new Map<number, number>();
  for (const list of lists)
    for (let r = 0; r < list.length; r++) score.set(list[r]!, (score.get(list[r]!) ?? 0) + 1 / (c + r + 1));
  return Int32Array.from([...score].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k), ([item]) => item);
}

export interface ProtocolConfig {
  ks: readonly number[];
  /** Test-late ratings at or above this are relevant. */
  relevantFrom: number;
  ratingValues: RatingValues;
  als: AlsParams;
  ease: EaseParams;
  itemKnn: ItemKnnParams;
  models: readonly ModelName[];
}

export interface MetricsAtK {
  k: number;
  precision: number;
  recall: number;
  ndcg: number;
  /** Standard error of the mean NDCG over users: how much of a difference between rows is noise. */
  ndcgStdErr: number;
  map: number;
  mrr: number;
  coverage: number;
  ild: number;
  /** NDCG of each evaluated user, in SplitReport.evaluatedUsers order, for paired comparisons between rows. */
  ndcgByUser: number[];
}

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

/** Everything the models are fitted on or judged against for one split, built once. */
interface SplitData {
  /** Train ∪ early, signed values (zeros kept: the item still counts as history). */
  history: SparseMatrix;
  /** The positive part of `history`, the weights for item-kNN and EASE. */
  positive: SparseMatrix;
  evaluated: Int32Array;
  relevant: Map<number, Set<number>>;
}

function valuesOf(log: InteractionLog, rows: Int32Array, mapping: RatingValues): Float64Array {
  const out = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = ratingValue(log.rating[rows[k]!]!, mapping);
  return out;
}

function matrixOf(log: InteractionLog, rows: Int32Array, mapping: RatingValues): SparseMatrix {
  const users = new Int32Array(rows.length);
  const items = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    users[k] = log.user[rows[k]!]!;
    items[k] = log.item[rows[k]!]!;
  }
  return csrFromTriples(log.nUsers, log.nItems, users, items, valuesOf(log, rows, mapping));
}

function positivePart(m: SparseMatrix): SparseMatrix {
  const indptr = new Int32Array(m.nRows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < m.nRows; r++) {
    for (let k = m.indptr[r]!; k < m.indptr[r + 1]!; k++) {
      if (m.values[k]! > 0) {
        indices.push(m.indices[k]!);
        values.push(m.values[k]!);
      }
    }
    indptr[r + 1] = indices.length;
  }
  return {
    nRows: m.nRows,
    nCols: m.nCols,
    indptr,
    indices: Int32Array.from(indices),
    values: Float64Array.from(values),
  };
}

function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const row = (m: SparseMatrix, u: number) => ({
  items: m.indices.subarray(m.indptr[u]!, m.indptr[u + 1]!),
  values: m.values.subarray(m.indptr[u]!, m.indptr[u + 1]!),
});

function prepare(log: InteractionLog, split: Split, config: ProtocolConfig): SplitData & { coldSkipped: number } {
  const history = matrixOf(log, concat(split.train, split.early), config.ratingValues);
  const relevant = new Map<number, Set<number>>();
  for (const r of split.late) {
    if (log.rating[r]! < config.relevantFrom) continue;
    const u = log.user[r]!;
    const i = log.item[r]!;
    if (row(history, u).items.includes(i)) continue;
    let set = relevant.get(u);
    if (!set) relevant.set(u, (set = new Set()));
    set.add(i);
  }
  const users = [...relevant.keys()].sort((a, b) => a - b);
  const evaluated = Int32Array.from(users.filter((u) => history.indptr[u + 1]! > history.indptr[u]!));
  return {
    history,
    positive: positivePart(history),
    evaluated,
    relevant,
    coldSkipped: users.length - evaluated.length,
  };
}

/**
 * An inner split's labels: per user with a non-empty fitted history, the items of their `late` rows rated >=
 * `relevantFrom` that are not in that history (the protocol's own definition of relevant), users ascending.
 */
function innerLabels(
  log: InteractionLog,
  late: Int32Array,
  history: SparseMatrix,
  relevantFrom: number,
): Map<number, Set<number>> {
  const labels = new Map<number, Set<number>>();
  for (const r of late) {
    const u = log.user[r]!;
    const i = log.item[r]!;
    if (
      log.rating[r]! < relevantFrom ||
      history.indptr[u + 1] === history.indptr[u] ||
      row(history, u).items.includes(i)
    )
      continue;
    let set = labels.get(u);
    if (!set) labels.set(u, (set = new Set()));
    set.add(i);
  }
  return new Map([...labels].sort((a, b) => a[0] - b[0]));
}

function timed<T>(f: () => T): [T, number] {
  const started = performance.now();
  const value = f();
  return [value, (performance.now() - started) / 1000];
}

function score(
  lists: readonly Int32Array[],
  data: SplitData,
  ks: readonly number[],
  catalogSize: number,
  distance: ItemDistance,
): MetricsAtK[] {
  const n = data.evaluated.length;
  return ks.map((k) => {
    let precision = 0;
    let recall = 0;
    let ndcg = 0;
    let ndcgSq = 0;
    let map = 0;
    let mrr = 0;
    let ild = 0;
    let ildLists = 0;
    const ndcgByUser: number[] = [];
    lists.forEach((list, idx) => {
      const rel = data.relevant.get(data.evaluated[idx]!)!;
      precision += precisionAtK(list, rel, k);
      recall += recallAtK(list, rel, k);
      const g = ndcgAtK(list, rel, k);
      ndcg += g;
      ndcgSq += g * g;
      ndcgByUser.push(g);
      map += averagePrecisionAtK(list, rel, k);
      mrr += reciprocalRankAtK(list, rel, k);
      const d = intraListDiversity(list, k, distance);
      if (!Number.isNaN(d)) {
        ild += d;
        ildLists++;
      }
    });
    const mean = n === 0 ? 0 : ndcg / n;
    const variance = n < 2 ? 0 : (ndcgSq - n * mean * mean) / (n - 1);
    return {
      k,
      precision: n === 0 ? 0 : precision / n,
      recall: n === 0 ? 0 : recall / n,
      ndcg: mean,
      ndcgStdErr: n < 2 ? 0 : Math.sqrt(Math.max(0, variance) / n),
      map: n === 0 ? 0 : map / n,
      mrr: n === 0 ? 0 : mrr / n,
      coverage: catalogCoverage(lists, k, catalogSize),
      ild: ildLists === 0 ? 0 : ild / ildLists,
      ndcgByUser,
    };
  });
}

/** Top-kMax for every evaluated user from a per-user recommender. */
function recommendAll(
  data: SplitData,
  recommend: (user: number, history: Int32Array) => Int32Array,
): [Int32Array[], number] {
  return timed(() => Array.from(data.evaluated, (u) => recommend(u, row(data.history, u).items)));
}

function alsLists(model: AlsModel, userFactors: Float64Array, data: SplitData, kMax: number): [Int32Array[], number] {
  const scratch = new Float64Array(model.nItems);
  const f = model.factors;
  return recommendAll(data, (u, history) =>
    recommendAls(model, userFactors.subarray(u * f, (u + 1) * f), history, kMax, scratch),
  );
}

/** Events per streamed batch: the size of a typical Kafka fetch in the fold-in processor. */
export const FOLD_IN_BATCH = 500;

/**
 * Streams test-early through fold-in on a train-only model, batch by batch as the fold-in processor does: the batch's
 * users are re-solved with the item factors fixed, then its items with the user factors fixed (XᵀX of the train-only
 * users, kept fixed between retrains; YᵀY kept current as items change), then its users again. Returns the updated
 * factors.
 */
function streamFoldIn(
  log: InteractionLog,
  split: Split,
  model: AlsModel,
  config: ProtocolConfig,
): { userFactors: Float64Array; itemFactors: Float64Array; usersCreated: number; seconds: number } {
  const f = model.factors;
  const userFactors = model.userFactors.slice();
  const itemFactors = model.itemFactors.slice();
  const byUser: { item: number; value: number }[][] = Array.from({ length: log.nUsers }, () => []);
  const byItem: { user: number; value: number }[][] = Array.from({ length: log.nItems }, () => []);
  const add = (r: number) => {
    const value = ratingValue(log.rating[r]!, config.ratingValues);
    byUser[log.user[r]!]!.push({ item: log.item[r]!, value });
    byItem[log.item[r]!]!.push({ user: log.user[r]!, value });
  };
  for (const r of split.train) add(r);
  let usersCreated = 0;
  const [, seconds] = timed(() => {
    const itemSide = { itemFactors, nItems: model.nItems, factors: f };
    const itemGram = itemGramian(itemSide);
    const userGram = itemGramian({ itemFactors: userFactors, nItems: log.nUsers, factors: f });
    const solveUser = (u: number) => userFactors.set(foldInUser(itemSide, itemGram, byUser[u]!, config.als), u * f);
    for (let start = 0; start < split.early.length; start += FOLD_IN_BATCH) {
      const users = new Set<number>();
      const items = new Set<number>();
      for (let k = start; k < Math.min(start + FOLD_IN_BATCH, split.early.length); k++) {
        const r = split.early[k]!;
        if (byUser[log.user[r]!]!.length === 0) usersCreated++;
        add(r);
        users.add(log.user[r]!);
        items.add(log.item[r]!);
      }
      for (const u of users) solveUser(u);
      for (const i of items) {
        const rows = byItem[i]!;
        const packed = new Float64Array(rows.length * f);
        rows.forEach(({ user }, j) => packed.set(userFactors.subarray(user * f, (user + 1) * f), j * f));
        const next = foldInItem(
          packed,
          f,
          userGram,
          rows.map((x) => x.value),
          config.als,
        );
        updateGramian(itemGram, f, itemFactors.slice(i * f, (i + 1) * f), next);
        itemFactors.set(next, i * f);
      }
      for (const u of users) solveUser(u);
    }
  });
  return { userFactors, itemFactors, usersCreated, seconds };
}

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
    const [ltr, seconds] = timed(() => {
      const feats: number[] = [];
      const ys: number[] = [];
      const offsets = [0];
      let rows = concat(split.train, split.early);
      for (let round = 0; round < LTR_INNER_ROUNDS && rows.length > 0; round++) {
        const inner = splitRowsAgain(split, log, rows);
        rows = concat(inner.train, inner.early);
        if (rows.length === 0 || inner.late.length === 0) break;
        const src = fitRankerInputs(log, rows, split.name, config);
        for (const [u, relevant] of innerLabels(log, inner.late, src.history, config.relevantFrom)) {
          const c = ltrCandidates(log, src, u, config);
          c.items.forEach((item, j) => {
            feats.push(...c.features[j]!);
            ys.push(relevant.has(item) ? 1 : 0);
          });
          offsets.push(ys.length);
        }
      }
      const model = trainLambdaMart(
        {
          features: Float64Array.from(feats),
          nFeatures: LTR_FEATURES.length,
          labels: Float64Array.from(ys),
          offsets: Int32Array.from(offsets),
        },
        LTR_PARAMS,
      );
      return {
        model,
        sources: fitRankerInputs(log, concat(split.train, split.early), split.name, config),
        trainQueries: offsets.length - 1,
        trainDocs: ys.length,
      };
    });
    progress(`${split.name}: ranker trained on ${ltr.trainQueries} inner queries, ${ltr.trainDocs} candidates`);
    add(
      'funnel-ltr',
      seconds,
      recommendAll(data, (u) => {
        const c = ltrCandidates(log, ltr.sources, u, config);
        const scored = c.items.map((item, j) => ({
          item,
          s: predictLambdaMart(ltr.model, c.features[j]!),
          prior: c.prior[j]!,
        }));
        scored.sort((a, b) => b.s - a.s || b.prior - a.prior || a.item - b.item);
        return Int32Array.from(scored.slice(0, kMax), (x) => x.item);
      }),
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
