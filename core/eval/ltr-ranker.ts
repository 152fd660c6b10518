// The learned ranker of the funnel-ltr row: its parameters, the sources it takes candidates from, its features per
// candidate, its training on inner splits of the history, and the order it gives the evaluated users' candidates.
import { recommendAls, trainAls, type AlsModel } from '../models/als.ts';
import { easeScores, recommendEase, trainEase } from '../models/ease.ts';
import { itemKnnScores, recommendItemKnn, trainItemKnn } from '../models/item-knn.ts';
import {
  DEFAULT_LAMBDAMART,
  predictLambdaMart,
  trainLambdaMart,
  type LambdaMartModel,
  type LambdaMartParams,
} from '../models/lambdamart.ts';
import type { SparseMatrix } from '../math/sparse.ts';
import { chronologicalOrder, type InteractionLog } from './interaction-log.ts';
import { candidateFeatures, itemRatings, itemTimes, LTR_FEATURES } from './ltr-features.ts';
import type { ProtocolConfig } from './protocol-config.ts';
import { concat, matrixOf, positivePart, row } from './rating-matrix.ts';
import { ratingValue } from './rating-values.ts';
import { innerLabels } from './split-data.ts';
import { splitRowsAgain, type Split } from './splits.ts';

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

/** The trained ranker, the sources refitted on the whole history it orders candidates from, and its data's size. */
export interface LtrRanker {
  /** The LambdaMART model. */
  model: LambdaMartModel;
  /** The sources fitted on the split's whole history (train ∪ early). */
  sources: RankerInputs;
  /** Inner-split users it learned from. */
  trainQueries: number;
  /** Candidates it learned from. */
  trainDocs: number;
}

/**
 * Trains the ranker on LTR_INNER_ROUNDS inner splits of the split's history (never its test part), then refits the
 * sources on the whole history.
 */
export function trainLtrRanker(log: InteractionLog, split: Split, config: ProtocolConfig): LtrRanker {
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
}

/** The ranker's top kMax of user u's candidates. */
export function ltrTopK(
  log: InteractionLog,
  ltr: LtrRanker,
  u: number,
  kMax: number,
  config: ProtocolConfig,
): Int32Array {
  const c = ltrCandidates(log, ltr.sources, u, config);
  const scored = c.items.map((item, j) => ({
    item,
    s: predictLambdaMart(ltr.model, c.features[j]!),
    prior: c.prior[j]!,
  }));
  scored.sort((a, b) => b.s - a.s || b.prior - a.prior || a.item - b.item);
  return Int32Array.from(scored.slice(0, kMax), (x) => x.item);
}
