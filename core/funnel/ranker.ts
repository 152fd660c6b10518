// Stage 3's one interface over the learned rankers: the online click model (FTRL, hashed sparse features) and the
// batch tree ranker (LambdaMART, dense features). Both score a candidate from the same logged ranking context, in the
// same reference slot, and explain a score as per-feature contributions. Pure.
import type { FtrlModel } from '../models/ftrl.ts';
import { predictLambdaMart, type LambdaMartModel } from '../models/lambdamart.ts';
import { explainLambdaMart } from '../models/lambdamart-explain.ts';
import {
  DENSE_FEATURES,
  SERVING_POSITION,
  denseRankingFeatures,
  rankingFeatures,
  withPosition,
  type RankingContext,
} from './ranking-features.ts';

export const RANKER_KINDS = ['ftrl', 'lambdamart'] as const;
export type RankerKind = (typeof RANKER_KINDS)[number];

export interface RankerExplanation {
  model: RankerKind;
  /** The ranking score: a click probability for FTRL, a relevance score (higher first, no scale) for LambdaMART. */
  score: number;
  /** FTRL only: the click probability (the score). */
  probability?: number;
  bias: number;
  contributions: { feature: string; value: number; contribution: number }[];
}

export interface Ranker {
  readonly kind: RankerKind;
  score(context: RankingContext): number;
  explain(context: RankingContext): RankerExplanation;
}

export class FtrlRanker implements Ranker {
  readonly kind = 'ftrl';
  constructor(readonly model: FtrlModel) {}

  private features(c: RankingContext) {
    return withPosition(rankingFeatures(c), SERVING_POSITION);
  }

  score(c: RankingContext): number {
    return this.model.predict(this.features(c));
  }

  explain(c: RankingContext): RankerExplanation {
    const e = this.model.explain(this.features(c));
    return {
      model: 'ftrl',
      score: e.probability,
      probability: e.probability,
      bias: e.bias,
      contributions: e.contributions.map(({ feature, value, contribution }) => ({ feature, value, contribution })),
    };
  }
}

export class LambdaMartRanker implements Ranker {
  readonly kind = 'lambdamart';
  constructor(readonly model: LambdaMartModel) {
    if (model.nFeatures !== DENSE_FEATURES.length)
      throw new Error(
        `a LambdaMART ranker needs ${DENSE_FEATURES.length} features (${DENSE_FEATURES.join(', ')}), this model has ${model.nFeatures}`,
      );
  }

  score(c: RankingContext): number {
    return predictLambdaMart(this.model, denseRankingFeatures(c, SERVING_POSITION));
  }

  explain(c: RankingContext): RankerExplanation {
    const e = explainLambdaMart(this.model, denseRankingFeatures(c, SERVING_POSITION), DENSE_FEATURES);
    return { model: 'lambdamart', score: e.score, bias: e.bias, contributions: e.contributions };
  }
}
