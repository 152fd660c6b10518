// Online logistic regression with FTRL-Proximal (McMahan et al., "Ad click prediction: a view from the trenches",
// KDD 2013): per-coordinate learning rates and L1 that keeps the model sparse, updated one impression at a time.
// Features are hashed strings ("item=42", "pos=2", "item=42×pos=2"…) with a value (1 for categorical), so the model
// takes crosses without a vocabulary; each prediction can be explained as the per-feature contributions w·x.
// Pure: the caller owns persistence (see toSnapshot / fromSnapshot).

import { fnv1a32 } from '../math/fnv-hash.ts';

export interface FtrlParams {
  alpha: number;
  beta: number;
  l1: number;
  l2: number;
  /** log2 of the hashed weight space. */
  bits: number;
  /**
   * A fixed log-odds offset: the prior click rate the weights correct. Without it an untrained model predicts 50%,
   * and a rare-click stream pays for that until the bias has learned the base rate.
   */
  baseLogit: number;
}

export const DEFAULT_FTRL: FtrlParams = { alpha: 0.05, beta: 1, l1: 1, l2: 1, bits: 20, baseLogit: 0 };

/** log-odds of a rate: the baseLogit for a prior click rate. */
export const logit = (p: number) => Math.log(p / (1 - p));

export type Features = ReadonlyArray<readonly [name: string, value: number]>;

export interface Contribution {
  feature: string;
  value: number;
  weight: number;
  contribution: number;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-Math.max(-35, Math.min(35, x))));

export class FtrlModel {
  private readonly z: Float64Array;
  private readonly n: Float64Array;
  private readonly mask: number;
  /** Impressions learned from. */
  updates = 0;

  constructor(readonly params: FtrlParams = DEFAULT_FTRL) {
    this.z = new Float64Array(2 ** params.bits);
    this.n = new Float64Array(2 ** params.bits);
    this.mask = 2 ** params.bits - 1;
  }

  private index(name: string): number {
    return fnv1a32(name) & this.mask;
  }

  private weight(i: number): number {
    const z = this.z[i]!;
    const { alpha, beta, l1, l2 } = this.params;
    if (Math.abs(z) <= l1) return 0;
    return -(z - Math.sign(z) * l1) / ((beta + Math.sqrt(this.n[i]!)) / alpha + l2);
  }

  /** P(click | features); a bias feature is always included. */
  predict(features: Features): number {
    let s = this.params.baseLogit + this.weight(this.index('bias'));
    for (const [name, x] of features) s += this.weight(this.index(name)) * x;
    return sigmoid(s);
  }

  /** Learns from one labelled impression (y = 1 clicked); returns the prediction made before the update. */
  update(features: Features, y: 0 | 1): number {
    const p = this.predict(features);
    const g = p - y;
    const step = (i: number, x: number) => {
      const gi = g * x;
      const ni = this.n[i]!;
      const sigma = (Math.sqrt(ni + gi * gi) - Math.sqrt(ni)) / this.params.alpha;
      this.z[i]! += gi - sigma * this.weight(i);
      this.n[i] = ni + gi * gi;
    };
    step(this.index('bias'), 1);
    for (const [name, x] of features) step(this.index(name), x);
    this.updates++;
    return p;
  }

  /** Each feature's share of the logit, largest magnitude first: what `explain` shows. */
  explain(features: Features): { probability: number; bias: number; contributions: Contribution[] } {
    const bias = this.weight(this.index('bias'));
    const contributions = features
      .map(([feature, value]) => {
        const weight = this.weight(this.index(feature));
        return { feature, value, weight, contribution: weight * value };
      })
      .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution));
    return { probability: this.predict(features), bias, contributions };
  }

  /** Non-zero coordinates only (a hashed model is mostly empty). */
  toSnapshot(): { params: FtrlParams; updates: number; indices: Uint32Array; z: Float64Array; n: Float64Array } {
    const idx: number[] = [];
    for (let i = 0; i < this.n.length; i++) if (this.n[i] !== 0) idx.push(i);
    return {
      params: this.params,
      updates: this.updates,
      indices: Uint32Array.from(idx),
      z: Float64Array.from(idx, (i) => this.z[i]!),
      n: Float64Array.from(idx, (i) => this.n[i]!),
    };
  }

  static fromSnapshot(s: ReturnType<FtrlModel['toSnapshot']>): FtrlModel {
    const m = new FtrlModel(s.params);
    s.indices.forEach((i, j) => {
      m.z[i] = s.z[j]!;
      m.n[i] = s.n[j]!;
    });
    m.updates = s.updates;
    return m;
  }
}

/** Area under the ROC curve (ties count half): how well scores order clicks above non-clicks. */
export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  for (let r = 0; r < order.length;) {
    let end = r;
    while (end + 1 < order.length && scores[order[end + 1]!] === scores[order[r]!]) end++;
    const avgRank = (r + end) / 2 + 1;
    for (let j = r; j <= end; j++) {
      if (labels[order[j]!]) {
        pos++;
        rankSum += avgRank;
      } else neg++;
    }
    r = end + 1;
  }
  return pos === 0 || neg === 0 ? 0.5 : (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

export function logLoss(p: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - 1e-12, Math.max(1e-12, p[i]!));
    s -= labels[i] ? Math.log(q) : Math.log(1 - q);
  }
  return s / p.length;
}
