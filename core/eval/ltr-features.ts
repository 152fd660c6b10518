// The learned ranker's candidate features in the offline evaluation: what each retrieval source thinks of a candidate
// (raw score, 1/rank, and the score normalised over the user's candidates, since raw scores are not comparable across
// users), what the item's popularity looked like up to the user's cut time, how well the item is rated, and what the
// sources think of it from the user's last few items alone. Pure: the protocol runs the models and hands the scores in.
import type { InteractionLog } from './interaction-log.ts';

export const LTR_FEATURES = [
  'als score',
  'als 1/rank',
  'ease score',
  'ease 1/rank',
  'knn score',
  'knn 1/rank',
  'sources',
  'log popularity',
  'als z-score',
  'als score / top',
  'ease z-score',
  'ease score / top',
  'knn z-score',
  'knn score / top',
  'log popularity to cut',
  'log popularity last 30 days',
  'log popularity last 365 days',
  'log item age (days)',
  'log days since item last rated',
  'item mean rating',
  'item liked share',
  'knn score from last items',
  'ease score from last items',
] as const;

/** Stands for a score a source cannot give (EASE outside its covered items: -Infinity). */
export const NO_SCORE = -1e9;
/** Stands for a normalised score that cannot be computed (no score, or a top score of 0). */
export const NO_NORMALISED = -10;
const DAY = 86_400;

/** The item's interaction times in `rows`, ascending, per item. */
export function itemTimes(log: InteractionLog, rows: ArrayLike<number>): Float64Array[] {
  const lists: number[][] = Array.from({ length: log.nItems }, () => []);
  for (let k = 0; k < rows.length; k++) lists[log.item[rows[k]!]!]!.push(log.time[rows[k]!]!);
  return lists.map((l) => Float64Array.from(l).sort());
}

/** How many of the ascending `times` are <= t. */
export function countAtOrBefore(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Each item's mean rating and share of ratings >= `likedFrom` in `rows`, both shrunk towards the global value by
 * `prior` pseudo-ratings ((sum + prior·global) / (count + prior)), so an item rated once is not rated "5.0".
 */
export function itemRatings(
  log: InteractionLog,
  rows: ArrayLike<number>,
  likedFrom: number,
  prior = 5,
): { mean: Float64Array; liked: Float64Array } {
  const sum = new Float64Array(log.nItems);
  const liked = new Float64Array(log.nItems);
  const count = new Float64Array(log.nItems);
  let globalSum = 0;
  let globalLiked = 0;
  for (let k = 0; k < rows.length; k++) {
    const i = log.item[rows[k]!]!;
    const r = log.rating[rows[k]!]!;
    sum[i]! += r;
    count[i]! += 1;
    globalSum += r;
    if (r >= likedFrom) {
      liked[i]! += 1;
      globalLiked += 1;
    }
  }
  const n = Math.max(1, rows.length);
  return {
    mean: Float64Array.from(sum, (s, i) => (s + (prior * globalSum) / n) / (count[i]! + prior)),
    liked: Float64Array.from(liked, (s, i) => (s + (prior * globalLiked) / n) / (count[i]! + prior)),
  };
}

/**
 * Scores normalised over one user's candidates: z-score (mean and population standard deviation of the finite
 * scores; a deviation of 0 counts as 1) and score / |top score|. Non-finite scores get NO_NORMALISED in both.
 */
export function normalisedScores(scores: readonly number[]): { z: number[]; ofTop: number[] } {
  const finite = scores.filter(Number.isFinite);
  const mean = finite.reduce((s, x) => s + x, 0) / Math.max(1, finite.length);
  const sd = Math.sqrt(finite.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, finite.length)) || 1;
  const top = finite.length === 0 ? 0 : Math.max(...finite);
  return {
    z: scores.map((x) => (Number.isFinite(x) ? (x - mean) / sd : NO_NORMALISED)),
    ofTop: scores.map((x) => (Number.isFinite(x) && top !== 0 ? x / Math.abs(top) : NO_NORMALISED)),
  };
}

/** One retrieval source for one user: its score for every item and the rank (from 0) of each item it retrieved. */
export interface SourceView {
  scores: ArrayLike<number>;
  rank: ReadonlyMap<number, number>;
}

export interface CandidateContext {
  /** ALS, EASE, item-kNN, in LTR_FEATURES order. */
  sources: readonly [SourceView, SourceView, SourceView];
  /** item-kNN and EASE scores from the user's last few items alone. */
  recent: readonly [ArrayLike<number>, ArrayLike<number>];
  /** Users per item in the data the sources were fitted on. */
  popularity: ArrayLike<number>;
  /** itemTimes() of that data. */
  times: readonly Float64Array[];
  /** itemRatings() of that data. */
  ratings: { mean: ArrayLike<number>; liked: ArrayLike<number> };
  /** When the user asks: time-based features count only interactions at or before it (seconds). */
  cut: number;
}

const finiteOr = (x: number, otherwise: number) => (Number.isFinite(x) ? x : otherwise);

/** The LTR_FEATURES row of each candidate item. */
export function candidateFeatures(items: readonly number[], ctx: CandidateContext): number[][] {
  const normalised = ctx.sources.map((s) => normalisedScores(items.map((i) => s.scores[i]!)));
  const t = ctx.cut;
  return items.map((i, j) => {
    const x: number[] = [];
    for (const s of ctx.sources) {
      const r = s.rank.get(i);
      x.push(finiteOr(s.scores[i]!, NO_SCORE), r === undefined ? 0 : 1 / (1 + r));
    }
    x.push(ctx.sources.filter((s) => s.rank.has(i)).length, Math.log1p(ctx.popularity[i]!));
    for (const n of normalised) x.push(n.z[j]!, n.ofTop[j]!);
    const times = ctx.times[i]!;
    const upTo = countAtOrBefore(times, t);
    x.push(
      Math.log1p(upTo),
      Math.log1p(upTo - countAtOrBefore(times, t - 30 * DAY)),
      Math.log1p(upTo - countAtOrBefore(times, t - 365 * DAY)),
    );
    x.push(upTo > 0 ? Math.log1p((t - times[0]!) / DAY) : -1, upTo > 0 ? Math.log1p((t - times[upTo - 1]!) / DAY) : -1);
    x.push(ctx.ratings.mean[i]!, ctx.ratings.liked[i]!);
    x.push(finiteOr(ctx.recent[0][i]!, NO_SCORE), finiteOr(ctx.recent[1][i]!, NO_SCORE));
    return x;
  });
}
