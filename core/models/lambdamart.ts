// LambdaMART (Burges, "From RankNet to LambdaRank to LambdaMART", 2010): gradient-boosted regression trees whose
// gradients are LambdaRank's, pairwise logistic pushes weighted by how much swapping two documents changes NDCG, so
// boosting optimises the ranking metric directly. Histogram trees: every feature is cut into at most `bins` quantile
// bins once, and a split is the best bin boundary by the second-order gain G²/(H+λ). Pure and deterministic.

export interface LambdaMartParams {
  trees: number;
  learningRate: number;
  maxDepth: number;
  minLeafDocs: number;
  /** L2 on leaf values. */
  lambda: number;
  bins: number;
  /** NDCG truncation the gradients optimise. */
  ndcgAt: number;
}

export const DEFAULT_LAMBDAMART: LambdaMartParams = {
  trees: 100,
  learningRate: 0.1,
  maxDepth: 4,
  minLeafDocs: 20,
  lambda: 1,
  bins: 32,
  ndcgAt: 10,
};

/** Documents grouped by query: rows [offsets[q], offsets[q + 1]) belong to query q. */
export interface RankingData {
  features: Float64Array;
  nFeatures: number;
  labels: Float64Array;
  offsets: Int32Array;
}

interface Node {
  feature: number;
  /** Rows with value <= threshold go left. */
  threshold: number;
  left: number;
  right: number;
  value: number;
}

export interface LambdaMartModel {
  params: LambdaMartParams;
  nFeatures: number;
  /** Each tree as a flat node list; node 0 is the root; leaves have feature -1. */
  trees: Node[][];
}

function quantileCuts(data: RankingData, bins: number): Float64Array[] {
  const n = data.labels.length;
  const cuts: Float64Array[] = [];
  for (let f = 0; f < data.nFeatures; f++) {
    const xs = Float64Array.from({ length: n }, (_, i) => data.features[i * data.nFeatures + f]!).sort();
    const c: number[] = [];
    for (let b = 1; b < bins; b++) {
      const v = xs[Math.floor((b * n) / bins)]!;
      if (c.length === 0 || v > c[c.length - 1]!) c.push(v);
    }
    cuts.push(Float64Array.from(c));
  }
  return cuts;
}

function binOf(cuts: Float64Array, x: number): number {
  let lo = 0;
  let hi = cuts.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (x <= cuts[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const gain = (label: number) => 2 ** label - 1;

/** NDCG@k of one query's current scores. */
export function ndcgOf(scores: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
  const n = labels.length;
  const byScore = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const ideal = Array.from(labels).sort((a, b) => b - a);
  let dcg = 0;
  let idcg = 0;
  for (let r = 0; r < Math.min(k, n); r++) {
    dcg += gain(labels[byScore[r]!]!) / Math.log2(r + 2);
    idcg += gain(ideal[r]!) / Math.log2(r + 2);
  }
  return idcg > 0 ? dcg / idcg : 0;
}

/** LambdaRank gradients and hessians for every document, given the current scores. */
function lambdas(data: RankingData, scores: Float64Array, k: number, g: Float64Array, h: Float64Array): void {
  g.fill(0);
  h.fill(0);
  for (let q = 0; q + 1 < data.offsets.length; q++) {
    const start = data.offsets[q]!;
    const n = data.offsets[q + 1]! - start;
    if (n < 2) continue;
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => scores[start + b]! - scores[start + a]! || a - b,
    );
    const rankOf = new Int32Array(n);
    order.forEach((doc, r) => (rankOf[doc] = r));
    const ideal = Array.from(data.labels.subarray(start, start + n)).sort((a, b) => b - a);
    let idcg = 0;
    for (let r = 0; r < Math.min(k, n); r++) idcg += gain(ideal[r]!) / Math.log2(r + 2);
    if (idcg === 0) continue;
    const disc = (r: number) => (r < k ? 1 / Math.log2(r + 2) : 0);
    // pairs (i, j) with label_i > label_j: loop from the (few) relevant documents, not over all n² pairs
    for (let i = 0; i < n; i++) {
      const li = data.labels[start + i]!;
      if (li <= 0) continue;
      for (let j = 0; j < n; j++) {
        const lj = data.labels[start + j]!;
        if (li <= lj) continue;
        const delta = Math.abs((gain(li) - gain(lj)) * (disc(rankOf[i]!) - disc(rankOf[j]!))) / idcg;
        if (delta === 0) continue;
        const rho = 1 / (1 + Math.exp(scores[start + i]! - scores[start + j]!));
        g[start + i]! -= rho * delta;
        g[start + j]! += rho * delta;
        const w = rho * (1 - rho) * delta;
        h[start + i]! += w;
        h[start + j]! += w;
      }
    }
  }
}

function fitTree(
  binned: Uint8Array,
  cuts: Float64Array[],
  nFeatures: number,
  rows: Int32Array,
  g: Float64Array,
  h: Float64Array,
  p: LambdaMartParams,
): Node[] {
  const nodes: Node[] = [];
  const grow = (members: Int32Array, depth: number): number => {
    let G = 0;
    let H = 0;
    for (const i of members) {
      G += g[i]!;
      H += h[i]!;
    }
    const id = nodes.length;
    nodes.push({ feature: -1, threshold: 0, left: -1, right: -1, value: -G / (H + p.lambda) });
    if (depth >= p.maxDepth || members.length < 2 * p.minLeafDocs) return id;
    const parent = (G * G) / (H + p.lambda);
    let best = { gain: 1e-9, feature: -1, bin: -1 };
    const hg = new Float64Array(p.bins);
    const hh = new Float64Array(p.bins);
    const hc = new Int32Array(p.bins);
    for (let f = 0; f < nFeatures; f++) {
      hg.fill(0);
      hh.fill(0);
      hc.fill(0);
      for (const i of members) {
        const b = binned[i * nFeatures + f]!;
        hg[b]! += g[i]!;
        hh[b]! += h[i]!;
        hc[b]! += 1;
      }
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let b = 0; b < cuts[f]!.length; b++) {
        gl += hg[b]!;
        hl += hh[b]!;
        cl += hc[b]!;
        const cr = members.length - cl;
        if (cl < p.minLeafDocs || cr < p.minLeafDocs) continue;
        const gr = G - gl;
        const hr = H - hl;
        const split = (gl * gl) / (hl + p.lambda) + (gr * gr) / (hr + p.lambda) - parent;
        if (split > best.gain) best = { gain: split, feature: f, bin: b };
      }
    }
    if (best.feature < 0) return id;
    const left = members.filter((i) => binned[i * nFeatures + best.feature]! <= best.bin);
    const right = members.filter((i) => binned[i * nFeatures + best.feature]! > best.bin);
    const node = nodes[id]!;
    node.feature = best.feature;
    node.threshold = cuts[best.feature]![best.bin]!;
    node.left = grow(left, depth + 1);
    node.right = grow(right, depth + 1);
    return id;
  };
  grow(rows, 0);
  return nodes;
}

function treeValue(tree: readonly Node[], x: ArrayLike<number>, offset: number): number {
  let n = tree[0]!;
  while (n.feature >= 0) n = tree[x[offset + n.feature]! <= n.threshold ? n.left : n.right]!;
  return n.value;
}

export function predictLambdaMart(model: LambdaMartModel, features: ArrayLike<number>, offset = 0): number {
  let s = 0;
  for (const t of model.trees) s += model.params.learningRate * treeValue(t, features, offset);
  return s;
}

/** Trains on `data`; `onTree` reports the mean training NDCG after each tree (progress, and a check that it learns). */
export function trainLambdaMart(
  data: RankingData,
  params: LambdaMartParams = DEFAULT_LAMBDAMART,
  onTree?: (tree: number, ndcg: number) => void,
): LambdaMartModel {
  const n = data.labels.length;
  const d = data.nFeatures;
  const cuts = quantileCuts(data, params.bins);
  const binned = new Uint8Array(n * d);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < d; f++) binned[i * d + f] = binOf(cuts[f]!, data.features[i * d + f]!);
  const rows = Int32Array.from({ length: n }, (_, i) => i);
  const scores = new Float64Array(n);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const model: LambdaMartModel = { params, nFeatures: d, trees: [] };
  for (let t = 0; t < params.trees; t++) {
    lambdas(data, scores, params.ndcgAt, g, h);
    const tree = fitTree(binned, cuts, d, rows, g, h, params);
    model.trees.push(tree);
    for (let i = 0; i < n; i++) scores[i]! += params.learningRate * treeValue(tree, data.features, i * d);
    if (onTree) {
      let sum = 0;
      const nq = data.offsets.length - 1;
      for (let q = 0; q < nq; q++)
        sum += ndcgOf(
          scores.subarray(data.offsets[q]!, data.offsets[q + 1]!),
          data.labels.subarray(data.offsets[q]!, data.offsets[q + 1]!),
          params.ndcgAt,
        );
      onTree(t, sum / nq);
    }
  }
  return model;
}
