// Incremental feature scaling. Running mean/variance per numeric feature (Welford), mergeable across partitions
// (Chan et al.), published as immutable versions. A version is promoted only when enough samples accrued and the
// change from the current version is material but not suspicious, so a scaler never drifts under serving's feet.

export interface RunningStats {
  count: number;
  mean: number;
  /** Sum of squared deviations from the mean. */
  m2: number;
  min: number;
  max: number;
}

export type ScalerAccumulator = Record<string, RunningStats>;

export const emptyStats = (): RunningStats => ({ count: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity });

/** Welford's update: numerically stable in one pass. Mutates and returns `s`. */
export function observe(s: RunningStats, x: number): RunningStats {
  s.count += 1;
  const delta = x - s.mean;
  s.mean += delta / s.count;
  s.m2 += delta * (x - s.mean);
  if (x < s.min) s.min = x;
  if (x > s.max) s.max = x;
  return s;
}

/** Combines two partial results as if one pass had seen both samples. */
export function mergeStats(a: RunningStats, b: RunningStats): RunningStats {
  if (a.count === 0) return { ...b };
  if (b.count === 0) return { ...a };
  const count = a.count + b.count;
  const delta = b.mean - a.mean;
  return {
    count,
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
  };
}

export function mergeAccumulators(parts: readonly ScalerAccumulator[]): ScalerAccumulator {
  const out: ScalerAccumulator = {};
  for (const part of parts)
    for (const [name, s] of Object.entries(part)) out[name] = mergeStats(out[name] ?? emptyStats(), s);
  return out;
}

export function observeAll(acc: ScalerAccumulator, values: Readonly<Record<string, number>>): void {
  for (const [name, x] of Object.entries(values)) {
    if (!Number.isFinite(x)) continue;
    observe((acc[name] ??= emptyStats()), x);
  }
}

export interface FeatureScale {
  count: number;
  mean: number;
  /** Population standard deviation; 1 when a feature never varied (so scaling leaves it centred, not infinite). */
  std: number;
  min: number;
  max: number;
}

/** The immutable content of a scaler version: what training and serving both apply. */
export interface ScalerSnapshot {
  features: Record<string, FeatureScale>;
}

const MIN_STD = 1e-9;

export function snapshotOf(acc: ScalerAccumulator): ScalerSnapshot {
  const features: Record<string, FeatureScale> = {};
  for (const name of Object.keys(acc).sort()) {
    const s = acc[name]!;
    if (s.count === 0) continue;
    const std = Math.sqrt(s.m2 / s.count);
    features[name] = { count: s.count, mean: s.mean, std: std > MIN_STD ? std : 1, min: s.min, max: s.max };
  }
  return { features };
}

/** z-score with the version's statistics; a feature the version does not know passes through unscaled. */
export function scale(snapshot: ScalerSnapshot, name: string, x: number): number {
  const f = snapshot.features[name];
  return f ? (x - f.mean) / f.std : x;
}

export interface FeatureDrift {
  /** |mean_new - mean_old| / std_old: how many old standard deviations the centre moved. */
  meanShift: number;
  /** |ln(std_new / std_old)|: 0.69 = the spread doubled or halved. */
  stdLogRatio: number;
}

export interface DriftReport {
  features: Record<string, FeatureDrift>;
  added: string[];
  removed: string[];
  /** The largest of every feature's meanShift and stdLogRatio (Infinity when features were added or removed). */
  max: number;
}

export function drift(current: ScalerSnapshot, candidate: ScalerSnapshot): DriftReport {
  const features: Record<string, FeatureDrift> = {};
  const added = Object.keys(candidate.features).filter((n) => !(n in current.features));
  const removed = Object.keys(current.features).filter((n) => !(n in candidate.features));
  let max = added.length + removed.length > 0 ? Infinity : 0;
  for (const [name, c] of Object.entries(candidate.features)) {
    const o = current.features[name];
    if (!o) continue;
    const d = { meanShift: Math.abs(c.mean - o.mean) / o.std, stdLogRatio: Math.abs(Math.log(c.std / o.std)) };
    features[name] = d;
    max = Math.max(max, d.meanShift, d.stdLogRatio);
  }
  return { features, added, removed, max };
}

export interface PromotionPolicy {
  /** Samples (of the least observed feature) the candidate needs. */
  minSamples: number;
  /** Below this drift a new version would change nothing worth a version: keep serving the current one. */
  minDrift: number;
  /** Above this drift something is off upstream: hold the candidate for an operator (promote with force). */
  maxDrift: number;
}

export type PromotionDecision =
  | {
      promote: true;
      reason: 'first-version' | 'drift-within-bounds' | 'forced';
      drift: DriftReport | null;
      samples: number;
    }
  | {
      promote: false;
      reason: 'insufficient-samples' | 'no-material-change' | 'drift-too-large';
      drift: DriftReport | null;
      samples: number;
    };

export function decidePromotion(
  current: ScalerSnapshot | null,
  candidate: ScalerSnapshot,
  policy: PromotionPolicy,
  force = false,
): PromotionDecision {
  const counts = Object.values(candidate.features).map((f) => f.count);
  const samples = counts.length > 0 ? Math.min(...counts) : 0;
  const report = current ? drift(current, candidate) : null;
  if (force && samples > 0) return { promote: true, reason: 'forced', drift: report, samples };
  if (samples < policy.minSamples) return { promote: false, reason: 'insufficient-samples', drift: report, samples };
  if (!current || !report) return { promote: true, reason: 'first-version', drift: null, samples };
  if (report.max < policy.minDrift) return { promote: false, reason: 'no-material-change', drift: report, samples };
  if (report.max > policy.maxDrift) return { promote: false, reason: 'drift-too-large', drift: report, samples };
  return { promote: true, reason: 'drift-within-bounds', drift: report, samples };
}
