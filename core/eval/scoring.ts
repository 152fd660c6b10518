// The scoring loop: top-K lists for every evaluated user, and the metrics at each K averaged over those users.
import { recommendAls, type AlsModel } from '../models/als.ts';
import type { ItemDistance } from './genre-distance.ts';
import {
  averagePrecisionAtK,
  catalogCoverage,
  intraListDiversity,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  reciprocalRankAtK,
} from './metrics.ts';
import { row } from './rating-matrix.ts';
import type { SplitData } from './split-data.ts';
import { timed } from './timed.ts';

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

export function score(
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
export function recommendAll(
  data: SplitData,
  recommend: (user: number, history: Int32Array) => Int32Array,
): [Int32Array[], number] {
  return timed(() => Array.from(data.evaluated, (u) => recommend(u, row(data.history, u).items)));
}

export function alsLists(
  model: AlsModel,
  userFactors: Float64Array,
  data: SplitData,
  kMax: number,
): [Int32Array[], number] {
  const scratch = new Float64Array(model.nItems);
  const f = model.factors;
  return recommendAll(data, (u, history) =>
    recommendAls(model, userFactors.subarray(u * f, (u + 1) * f), history, kMax, scratch),
  );
}
