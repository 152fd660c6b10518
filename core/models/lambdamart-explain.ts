// Per-feature explanations of a LambdaMART score (Saabas, "Interpreting random forests", 2014): walking each tree's
// decision path, the change in node value at every split is credited to the split's feature, so the root values
// (the bias) plus the contributions add up to the score exactly. Pure.
import type { LambdaMartModel } from './lambdamart.ts';

export interface TreeContribution {
  feature: string;
  value: number;
  contribution: number;
}

export function explainLambdaMart(
  model: LambdaMartModel,
  x: ArrayLike<number>,
  names: readonly string[],
): { score: number; bias: number; contributions: TreeContribution[] } {
  if (names.length !== model.nFeatures)
    throw new Error(`explainLambdaMart: ${names.length} feature names for a model of ${model.nFeatures} features`);
  const lr = model.params.learningRate;
  const byFeature = new Float64Array(model.nFeatures);
  let bias = 0;
  for (const tree of model.trees) {
    let node = tree[0]!;
    bias += lr * node.value;
    while (node.feature >= 0) {
      const next = tree[x[node.feature]! <= node.threshold ? node.left : node.right]!;
      byFeature[node.feature]! += lr * (next.value - node.value);
      node = next;
    }
  }
  const contributions = names
    .map((feature, f) => ({ feature, value: x[f]!, contribution: byFeature[f]! }))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
  return { score: bias + byFeature.reduce((s, c) => s + c, 0), bias, contributions };
}
