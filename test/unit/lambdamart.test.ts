import { describe, expect, it } from 'vitest';
import { ndcgOf, predictLambdaMart, trainLambdaMart, type RankingData } from '../../core/models/lambdamart.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

// Queries of 40 documents, three features; relevance depends on them non-linearly: relevant when x0 > 0.6 and x1 < 0.5
// (an interaction no single feature ranks by), x2 is noise.
function dataset(queries: number, seed: number): RankingData {
  const random = seededRandom(seed);
  const n = queries * 40;
  const features = new Float64Array(n * 3);
  const labels = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const [a, b, c] = [random(), random(), random()];
    features.set([a, b, c], i * 3);
    labels[i] = a > 0.6 && b < 0.5 ? (a > 0.85 ? 2 : 1) : 0;
  }
  return { features, nFeatures: 3, labels, offsets: Int32Array.from({ length: queries + 1 }, (_, q) => q * 40) };
}

function meanNdcg(data: RankingData, score: (row: number) => number): number {
  let sum = 0;
  const nq = data.offsets.length - 1;
  for (let q = 0; q < nq; q++) {
    const rows = Array.from({ length: data.offsets[q + 1]! - data.offsets[q]! }, (_, j) => data.offsets[q]! + j);
    sum += ndcgOf(
      rows.map(score),
      rows.map((r) => data.labels[r]!),
      10,
    );
  }
  return sum / nq;
}

describe('LambdaMART', () => {
  const train = dataset(200, 1);
  const test = dataset(100, 2);
  const curve: number[] = [];
  const model = trainLambdaMart(
    train,
    { trees: 40, learningRate: 0.2, maxDepth: 3, minLeafDocs: 10, lambda: 1, bins: 32, ndcgAt: 10 },
    (_, ndcg) => curve.push(ndcg),
  );

  it('learns a non-linear relevance rule that no single feature ranks by, on held-out queries', () => {
    const learned = meanNdcg(test, (r) => predictLambdaMart(model, test.features, r * 3));
    const byX0 = meanNdcg(test, (r) => test.features[r * 3]!);
    expect(byX0).toBeLessThan(0.8);
    expect(learned).toBeGreaterThan(0.95);
    expect(learned).toBeGreaterThan(byX0 + 0.15);
  });

  it('improves training NDCG as trees are added', () => {
    expect(curve).toHaveLength(40);
    const untrained = meanNdcg(train, () => 0); // all scores tied: documents in input order
    expect(curve[0]!).toBeGreaterThan(untrained + 0.3);
    expect(curve.at(-1)!).toBeGreaterThanOrEqual(curve[0]!);
    expect(curve.at(-1)!).toBeGreaterThan(0.98);
  });

  it('computes NDCG like the definition', () => {
    expect(ndcgOf([3, 2, 1], [1, 0, 0], 10)).toBe(1);
    expect(ndcgOf([1, 2, 3], [1, 0, 0], 10)).toBeCloseTo(0.5, 12); // the relevant one at rank 3: 1/log2(4)
    expect(ndcgOf([1, 2], [0, 0], 10)).toBe(0);
  });
});
