// The batch ranker's data and its honest check: labelled impressions (one query per recommendation, graded labels:
// conversion 2, click 1, none 0) become a ranking data set; the newest share of queries by time is held out, the tree
// ranker is trained on the rest and compared there with the order the feed actually served (and any other scorer,
// e.g. the online click model), then refitted on everything for publication. Pure.
import {
  ndcgOf,
  trainLambdaMart,
  type LambdaMartModel,
  type LambdaMartParams,
  type RankingData,
} from './lambdamart.ts';
import { LambdaMartRanker } from '../funnel/ranker.ts';
import { DENSE_FEATURES, denseRankingFeatures, type RankingContext } from '../funnel/ranking-features.ts';

export interface RankerExample {
  recommendationId: string;
  itemId: string;
  impressionMs: number;
  position: number;
  context: RankingContext;
  clicked: boolean;
  converted: boolean;
}

export const exampleLabel = (e: RankerExample) => (e.converted ? 2 : e.clicked ? 1 : 0);

interface Query {
  at: number;
  docs: RankerExample[];
}

/**
 * Queries with something to learn: two or more items shown and not all labelled alike (a feed with no click gives
 * LambdaRank no pair to order). Sorted by time.
 */
export function rankingQueries(examples: readonly RankerExample[]): Query[] {
  const byRec = new Map<string, RankerExample[]>();
  for (const e of examples) {
    const docs = byRec.get(e.recommendationId);
    if (docs) docs.push(e);
    else byRec.set(e.recommendationId, [e]);
  }
  return [...byRec.values()]
    .filter((docs) => docs.length >= 2 && new Set(docs.map(exampleLabel)).size > 1)
    .map((docs) => ({
      at: Math.min(...docs.map((d) => d.impressionMs)),
      docs: docs.sort((a, b) => a.position - b.position),
    }))
    .sort((a, b) => a.at - b.at);
}

export function rankingData(queries: readonly Query[]): RankingData {
  const n = queries.reduce((s, q) => s + q.docs.length, 0);
  const d = DENSE_FEATURES.length;
  const features = new Float64Array(n * d);
  const labels = new Float64Array(n);
  const offsets = new Int32Array(queries.length + 1);
  let row = 0;
  queries.forEach((q, i) => {
    offsets[i] = row;
    for (const doc of q.docs) {
      features.set(denseRankingFeatures(doc.context, doc.position), row * d);
      labels[row] = exampleLabel(doc);
      row++;
    }
  });
  offsets[queries.length] = row;
  return { features, nFeatures: d, labels, offsets };
}

/** Mean NDCG@k over queries of a scorer of one shown item (its context and slot). */
export function meanNdcg(queries: readonly Query[], score: (doc: RankerExample) => number, k: number): number {
  if (queries.length === 0) return 0;
  let sum = 0;
  for (const q of queries) sum += ndcgOf(q.docs.map(score), q.docs.map(exampleLabel), k);
  return sum / queries.length;
}

export interface RankerTrainingReport {
  examples: number;
  queries: number;
  documents: number;
  trainQueries: number;
  holdoutQueries: number;
  /** NDCG@k on the held-out (newest) queries: the tree ranker trained on the older ones, the served order, others. */
  holdoutNdcg: Record<string, number>;
}

/**
 * Trains on the older queries, scores the held-out newest ones, then refits on all. Throws when there is too little to
 * learn from; `baselines` score a shown item in the serving slot, as serving would.
 */
export function trainTreeRanker(
  examples: readonly RankerExample[],
  params: LambdaMartParams,
  o: { holdoutShare: number; minQueries: number; baselines?: Record<string, (context: RankingContext) => number> },
): { model: LambdaMartModel; report: RankerTrainingReport } {
  const queries = rankingQueries(examples);
  if (queries.length < o.minQueries) {
    throw new Error(
      `too little to train a tree ranker: ${queries.length} recommendations with both clicked and unclicked items (from ${examples.length} labelled impressions); need ${o.minQueries}`,
    );
  }
  const cut = Math.max(1, Math.min(queries.length - 1, Math.round(queries.length * (1 - o.holdoutShare))));
  const train = queries.slice(0, cut);
  const holdout = queries.slice(cut);
  // compared as it would serve: every candidate in the same reference slot
  const checked = new LambdaMartRanker(trainLambdaMart(rankingData(train), params));
  const holdoutNdcg: Record<string, number> = {
    lambdamart: meanNdcg(holdout, (doc) => checked.score(doc.context), params.ndcgAt),
    // what users saw: the first slot first
    servedOrder: meanNdcg(holdout, (doc) => -doc.position, params.ndcgAt),
  };
  for (const [name, f] of Object.entries(o.baselines ?? {}))
    holdoutNdcg[name] = meanNdcg(holdout, (doc) => f(doc.context), params.ndcgAt);
  const model = trainLambdaMart(rankingData(queries), params);
  const documents = queries.reduce((s, q) => s + q.docs.length, 0);
  return {
    model,
    report: {
      examples: examples.length,
      queries: queries.length,
      documents,
      trainQueries: train.length,
      holdoutQueries: holdout.length,
      holdoutNdcg,
    },
  };
}
