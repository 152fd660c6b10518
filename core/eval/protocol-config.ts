// The models the offline protocol compares, the names reports give them, and the configuration of one run.
import type { AlsParams } from '../models/als.ts';
import type { EaseParams } from '../models/ease.ts';
import type { ItemKnnParams } from '../models/item-knn.ts';
import type { RatingValues } from './rating-values.ts';

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

export interface ProtocolConfig {
  /** Cut-offs K of the metrics; the largest is the length of every list. */
  ks: readonly number[];
  /** Test-late ratings at or above this are relevant. */
  relevantFrom: number;
  /** The rating mapping that gives every model its interaction values. */
  ratingValues: RatingValues;
  /** ALS parameters, for every row that trains ALS. */
  als: AlsParams;
  /** EASE parameters, for the EASE row and the funnels' EASE source. */
  ease: EaseParams;
  /** Item-kNN parameters, for the item-kNN row and the funnels' kNN source. */
  itemKnn: ItemKnnParams;
  /** The rows to run (reports keep MODEL_NAMES order). */
  models: readonly ModelName[];
}
