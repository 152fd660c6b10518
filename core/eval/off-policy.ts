// Off-policy evaluation: what would a new policy's click rate be, estimated from impressions logged under another policy
// with the logging propensities. Three estimators (Dudík et al. 2011; Swaminathan & Joachims 2015):
//   IPS    mean of w·r,            w = π_e(a|x) / π_b(a|x): unbiased, high variance
//   SNIPS  Σ w·r / Σ w:            self-normalised, slightly biased, much lower variance when weights are large
//   DR     mean of Σ_a π_e(a|x) q̂(x,a) + w·(r − q̂(x,a)): unbiased if either the propensities or q̂ are right
// q̂ is cross-fitted (each row's q̂ is fitted without its own fold), so DR's correction term stays unbiased. Confidence
// intervals are percentile bootstraps over rows. Contexts here are slot positions (the Open Bandit policies choose per
// position); the code takes any small discrete context.
import { seededRandom } from '../math/seeded-random.ts';

export interface BanditLog {
  /** Chosen action per row. */
  action: Int32Array;
  /** Discrete context per row (e.g. the slot position, 0-based). */
  context: Int32Array;
  reward: Float64Array;
  /** π_b(action | context) of the logging policy. */
  propensity: Float64Array;
  nActions: number;
  nContexts: number;
}

/** A target policy as a table: probability of action a in context c at [c * nActions + a]. */
export interface ActionDistribution {
  nActions: number;
  nContexts: number;
  p: Float64Array;
}

export interface Estimate {
  value: number;
  ci95: [number, number];
}

export interface OpeReport {
  rows: number;
  ips: Estimate;
  snips: Estimate;
  dr: Estimate;
  /** Mean and largest importance weight: a large maximum warns that few rows carry the estimate. */
  weights: { mean: number; max: number };
}

/** A policy's average action distribution per context, from its own log: count(a, c) / count(c). */
export function empiricalPolicy(log: BanditLog): ActionDistribution {
  const p = new Float64Array(log.nContexts * log.nActions);
  const perContext = new Float64Array(log.nContexts);
  for (let i = 0; i < log.action.length; i++) {
    p[log.context[i]! * log.nActions + log.action[i]!]! += 1;
    perContext[log.context[i]!]! += 1;
  }
  for (let c = 0; c < log.nContexts; c++)
    for (let a = 0; a < log.nActions; a++) if (perContext[c]! > 0) p[c * log.nActions + a]! /= perContext[c]!;
  return { nActions: log.nActions, nContexts: log.nContexts, p };
}

export function importanceWeights(log: BanditLog, target: ActionDistribution): Float64Array {
  if (target.nActions !== log.nActions || target.nContexts !== log.nContexts)
    throw new Error(
      `target policy is ${target.nContexts}x${target.nActions}, the log ${log.nContexts}x${log.nActions}`,
    );
  const w = new Float64Array(log.action.length);
  for (let i = 0; i < w.length; i++) {
    const pb = log.propensity[i]!;
    if (!(pb > 0)) throw new Error(`row ${i}: logging propensity ${pb} must be positive`);
    w[i] = target.p[log.context[i]! * log.nActions + log.action[i]!]! / pb;
  }
  return w;
}

/**
 * Cross-fitted reward model: q̂(a, c) = (clicks + m·ctr_c) / (shows + m), the per-context click rate shrunk toward the
 * context's mean with m pseudo-shows, fitted on the other folds. Returns each row's q̂ at its own action and the
 * target's expected q̂ in its context, both out of fold.
 */
export function crossFittedRewards(
  log: BanditLog,
  target: ActionDistribution,
  folds: number,
  prior: number,
): { atAction: Float64Array; expected: Float64Array } {
  const n = log.action.length;
  const { nActions, nContexts } = log;
  const fold = (i: number) => i % folds;
  const clicks = Array.from({ length: folds }, () => new Float64Array(nContexts * nActions));
  const shows = Array.from({ length: folds }, () => new Float64Array(nContexts * nActions));
  for (let i = 0; i < n; i++) {
    const cell = log.context[i]! * nActions + log.action[i]!;
    clicks[fold(i)]![cell]! += log.reward[i]!;
    shows[fold(i)]![cell]! += 1;
  }
  // q̂ table fitted without fold k, per k
  const tables = Array.from({ length: folds }, (_, k) => {
    const q = new Float64Array(nContexts * nActions);
    for (let c = 0; c < nContexts; c++) {
      let cc = 0;
      let cs = 0;
      for (let a = 0; a < nActions; a++) {
        for (let j = 0; j < folds; j++) {
          if (j === k) continue;
          cc += clicks[j]![c * nActions + a]!;
          cs += shows[j]![c * nActions + a]!;
        }
      }
      const mean = cs > 0 ? cc / cs : 0;
      for (let a = 0; a < nActions; a++) {
        let ac = 0;
        let as = 0;
        for (let j = 0; j < folds; j++) {
          if (j === k) continue;
          ac += clicks[j]![c * nActions + a]!;
          as += shows[j]![c * nActions + a]!;
        }
        q[c * nActions + a] = (ac + prior * mean) / (as + prior);
      }
    }
    return q;
  });
  const atAction = new Float64Array(n);
  const expected = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const q = tables[fold(i)]!;
    const c = log.context[i]!;
    atAction[i] = q[c * nActions + log.action[i]!]!;
    let e = 0;
    for (let a = 0; a < nActions; a++) e += target.p[c * nActions + a]! * q[c * nActions + a]!;
    expected[i] = e;
  }
  return { atAction, expected };
}

/** Percentile bootstrap of a statistic over resampled row indices. */
export function bootstrapCi(
  n: number,
  statistic: (rows: Int32Array) => number,
  resamples: number,
  seed: number,
): [number, number] {
  const random = seededRandom(seed);
  const values = new Float64Array(resamples);
  const rows = new Int32Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) rows[i] = Math.floor(random() * n);
    values[b] = statistic(rows);
  }
  values.sort();
  return [values[Math.floor(0.025 * (resamples - 1))]!, values[Math.ceil(0.975 * (resamples - 1))]!];
}

const meanOver = (x: Float64Array) => (rows: Int32Array) => {
  let s = 0;
  for (const i of rows) s += x[i]!;
  return s / rows.length;
};

export function evaluatePolicy(
  log: BanditLog,
  target: ActionDistribution,
  opts: { resamples: number; seed: number; folds?: number; prior?: number },
): OpeReport {
  const n = log.action.length;
  if (n === 0) throw new Error('the log is empty');
  const w = importanceWeights(log, target);
  const ipsTerms = new Float64Array(n);
  for (let i = 0; i < n; i++) ipsTerms[i] = w[i]! * log.reward[i]!;
  const snips = (rows: Int32Array) => {
    let num = 0;
    let den = 0;
    for (const i of rows) {
      num += ipsTerms[i]!;
      den += w[i]!;
    }
    return den > 0 ? num / den : 0;
  };
  const q = crossFittedRewards(log, target, opts.folds ?? 2, opts.prior ?? 20);
  const drTerms = new Float64Array(n);
  for (let i = 0; i < n; i++) drTerms[i] = q.expected[i]! + w[i]! * (log.reward[i]! - q.atAction[i]!);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  let wSum = 0;
  let wMax = 0;
  for (const x of w) {
    wSum += x;
    wMax = Math.max(wMax, x);
  }
  return {
    rows: n,
    ips: { value: meanOver(ipsTerms)(all), ci95: bootstrapCi(n, meanOver(ipsTerms), opts.resamples, opts.seed) },
    snips: { value: snips(all), ci95: bootstrapCi(n, snips, opts.resamples, opts.seed + 1) },
    dr: { value: meanOver(drTerms)(all), ci95: bootstrapCi(n, meanOver(drTerms), opts.resamples, opts.seed + 2) },
    weights: { mean: wSum / n, max: wMax },
  };
}

/** The on-policy value of a log (its mean reward) with a bootstrap interval: the ground truth OPE is checked against. */
export function onPolicyValue(log: BanditLog, resamples: number, seed: number): Estimate {
  const all = Int32Array.from({ length: log.action.length }, (_, i) => i);
  return {
    value: meanOver(log.reward)(all),
    ci95: bootstrapCi(log.action.length, meanOver(log.reward), resamples, seed),
  };
}
