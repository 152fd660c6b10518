// The batch tree ranker: explanations that add up, the ranking data set built from labelled impressions, and a
// holdout check that finds a planted relation the served order missed.
import { describe, expect, it } from 'vitest';
import { applyExperiments, experimentSchema } from '../../core/experiments/assignment.ts';
import { trainLambdaMart, predictLambdaMart, DEFAULT_LAMBDAMART } from '../../core/models/lambdamart.ts';
import { explainLambdaMart } from '../../core/models/lambdamart-explain.ts';
import { LambdaMartRanker } from '../../core/funnel/ranker.ts';
import {
  exampleLabel,
  rankingData,
  rankingQueries,
  trainTreeRanker,
  type RankerExample,
} from '../../core/models/ranker-training.ts';
import { DENSE_FEATURES, denseRankingFeatures, type RankingContext } from '../../core/funnel/ranking-features.ts';
import { DEFAULT_RERANK } from '../../core/funnel/rerank.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const context = (over: Partial<RankingContext> = {}): RankingContext => ({
  source: 'popular',
  poolRank: 0,
  itemId: 'i',
  category: null,
  ageHours: null,
  alsScore: null,
  sessionEvents: 0,
  ...over,
});

// Feeds of 8 items in served order; the truth: users click items whose recent click rate is high, whatever slot or
// rail they were served in (the served order is random with respect to it). Conversions on the best ones.
function impressions(feeds: number, seed: number): RankerExample[] {
  const random = seededRandom(seed);
  const out: RankerExample[] = [];
  for (let f = 0; f < feeds; f++) {
    for (let position = 0; position < 8; position++) {
      const shows = 50 + Math.floor(random() * 500);
      const rate = random() * 0.3;
      const clicked = random() < rate * 2.5;
      out.push({
        recommendationId: `r${f}`,
        itemId: `i${f}-${position}`,
        impressionMs: 1_000 * f,
        position,
        context: context({
          source: random() < 0.5 ? 'ann' : 'popular',
          poolRank: position,
          itemShows: shows,
          itemClicks: Math.round(shows * rate),
          alsScore: random() < 0.5 ? null : random(),
        }),
        clicked,
        converted: clicked && rate > 0.25,
      });
    }
  }
  return out;
}

describe('dense ranking features', () => {
  it('has one value per named feature, missing values as -1 and the slot last', () => {
    const x = denseRankingFeatures(context({ source: 'ann', poolRank: 3 }), 5);
    expect(x).toHaveLength(DENSE_FEATURES.length);
    expect(x[DENSE_FEATURES.indexOf('src=ann')]).toBe(1);
    expect(x[DENSE_FEATURES.indexOf('ageHours')]).toBe(-1);
    expect(x[DENSE_FEATURES.indexOf('itemCtr')]).toBe(-1);
    expect(x[DENSE_FEATURES.indexOf('hasAls')]).toBe(0);
    expect(x[DENSE_FEATURES.indexOf('position')]).toBe(5);
  });
});

describe('LambdaMART explanations', () => {
  it('adds up to the score exactly, and credits the feature the model splits on', () => {
    const random = seededRandom(4);
    const n = 40 * 60;
    const features = new Float64Array(n * 3);
    const labels = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      features.set([random(), random(), random()], i * 3);
      labels[i] = features[i * 3 + 1]! > 0.7 ? 1 : 0;
    }
    const model = trainLambdaMart(
      { features, nFeatures: 3, labels, offsets: Int32Array.from({ length: 61 }, (_, q) => q * 40) },
      { ...DEFAULT_LAMBDAMART, trees: 20 },
    );
    for (const x of [
      [0.2, 0.9, 0.5],
      [0.9, 0.1, 0.1],
    ]) {
      const e = explainLambdaMart(model, x, ['a', 'b', 'c']);
      expect(e.score).toBeCloseTo(predictLambdaMart(model, x), 10);
      expect(e.bias + e.contributions.reduce((s, c) => s + c.contribution, 0)).toBeCloseTo(e.score, 10);
      expect(e.contributions[0]!.feature).toBe('b');
    }
    expect(explainLambdaMart(model, [0.5, 0.9, 0.5], ['a', 'b', 'c']).contributions[0]!.contribution).toBeGreaterThan(
      0,
    );
    expect(() => explainLambdaMart(model, [0, 0, 0], ['a'])).toThrow(/1 feature names for a model of 3/);
  });
});

describe('ranking data from labelled impressions', () => {
  it('groups by recommendation, grades labels, and drops feeds with nothing to order', () => {
    const ex = impressions(3, 1);
    // feed r1: no click at all; feed r2: a single item
    for (const e of ex) if (e.recommendationId === 'r1') Object.assign(e, { clicked: false, converted: false });
    ex.push({ ...ex[0]!, recommendationId: 'single', itemId: 'x' });
    const kept = rankingQueries(ex);
    expect(kept.map((q) => q.docs[0]!.recommendationId).sort()).toEqual(
      ['r0', 'r2'].filter((r) => ex.some((e) => e.recommendationId === r && e.clicked)),
    );
    const data = rankingData(kept);
    expect(data.nFeatures).toBe(DENSE_FEATURES.length);
    expect(data.offsets[data.offsets.length - 1]).toBe(kept.length * 8);
    expect(exampleLabel({ ...ex[0]!, clicked: true, converted: true })).toBe(2);
    expect(exampleLabel({ ...ex[0]!, clicked: true, converted: false })).toBe(1);
  });

  it('learns a relation the served order missed, checked on the newest feeds, and explains it', () => {
    const { model, report } = trainTreeRanker(
      impressions(600, 2),
      { ...DEFAULT_LAMBDAMART, trees: 40 },
      { holdoutShare: 0.25, minQueries: 50 },
    );
    expect(report.holdoutQueries).toBeGreaterThan(50);
    expect(report.trainQueries + report.holdoutQueries).toBe(report.queries);
    expect(report.holdoutNdcg.lambdamart).toBeGreaterThan(report.holdoutNdcg.servedOrder! + 0.1);
    const ranker = new LambdaMartRanker(model);
    const hot = context({ itemShows: 400, itemClicks: 110 });
    const cold = context({ itemShows: 400, itemClicks: 4 });
    expect(ranker.score(hot)).toBeGreaterThan(ranker.score(cold));
    const e = ranker.explain(hot);
    expect(e.model).toBe('lambdamart');
    expect(e.contributions[0]!.feature).toBe('itemCtr');
  });

  it('refuses to train on too little, saying what is missing', () => {
    expect(() =>
      trainTreeRanker(impressions(10, 3), DEFAULT_LAMBDAMART, { holdoutShare: 0.2, minQueries: 50 }),
    ).toThrow(/too little to train a tree ranker: \d+ recommendations with both clicked and unclicked items/);
  });

  it('rejects a model of another feature set', () => {
    const model = trainLambdaMart(
      {
        features: new Float64Array(4),
        nFeatures: 2,
        labels: Float64Array.from([1, 0]),
        offsets: Int32Array.from([0, 2]),
      },
      { ...DEFAULT_LAMBDAMART, trees: 1 },
    );
    expect(() => new LambdaMartRanker(model)).toThrow(/needs 12 features/);
  });
});

describe('experiment variants choose the ranker', () => {
  it('overrides the tenant default only for the variant that names one', () => {
    const e = experimentSchema.parse({
      id: 'rk',
      salt: 's',
      variants: [
        { name: 'control', weight: 1 },
        { name: 'trees', weight: 1, overrides: { ranker: 'lambdamart' } },
      ],
    });
    const base = { shares: { ann: 1, popular: 1, trending: 1, fresh: 1 }, rerank: DEFAULT_RERANK };
    const seen = new Map<string, string | undefined>();
    for (let u = 0; u < 50; u++) {
      const r = applyExperiments(base, [e], `u${u}`);
      seen.set(r.assignments.rk!, r.settings.ranker);
    }
    expect(seen.get('trees')).toBe('lambdamart');
    expect(seen.get('control')).toBeUndefined();
    expect(
      experimentSchema.safeParse({
        id: 'x',
        salt: 's',
        variants: [
          { name: 'a', weight: 1, overrides: { ranker: 'gbdt' } },
          { name: 'b', weight: 1 },
        ],
      }).success,
    ).toBe(false);
  });
});
