// The statistics of an A/B report: per variant CTR, conversion rate (both per impression) and revenue per user, with
// 95% intervals, and each variant against the control with the difference's interval and a two-sided p-value.
// The unit of randomisation is the user, so the ratio metrics' variances are cluster-robust: the delta method over
// per-user sums (Deng et al., "Applying the delta method in metric analytics", 2018), not a per-impression binomial,
// which would understate the variance when a user's impressions are correlated. Pure.
import { assignVariant, controlOf, type Experiment } from './assignment.ts';

export interface UserOutcome {
  userId: string;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
}

export interface MetricEstimate {
  value: number;
  se: number;
  ci95: [number, number];
}

export interface Comparison {
  difference: number;
  ci95: [number, number];
  relativeLift: number;
  pValue: number;
  significant: boolean;
}

export interface VariantReport {
  variant: string;
  users: number;
  impressions: number;
  clicks: number;
  conversions: number;
  revenue: number;
  ctr: MetricEstimate;
  conversionRate: MetricEstimate;
  revenuePerUser: MetricEstimate;
  /** Null for the control, and while either side has no exposed users. */
  vsControl: { ctr: Comparison; conversionRate: Comparison; revenuePerUser: Comparison } | null;
}

const Z95 = 1.959963984540054;

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 on erf; |error| < 1.5e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

const estimate = (value: number, se: number): MetricEstimate => ({
  value,
  se,
  ci95: [value - Z95 * se, value + Z95 * se],
});

/** ΣY / ΣX over users, with the delta-method standard error. */
export function ratioMetric(ys: readonly number[], xs: readonly number[]): MetricEstimate {
  const n = xs.length;
  if (n === 0) return estimate(0, 0);
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  if (n < 2 || mx === 0) return estimate(mx === 0 ? 0 : my / mx, 0);
  const r = my / mx;
  let vx = 0;
  let vy = 0;
  let cxy = 0;
  for (let i = 0; i < n; i++) {
    vx += (xs[i]! - mx) ** 2;
    vy += (ys[i]! - my) ** 2;
    cxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  vx /= n - 1;
  vy /= n - 1;
  cxy /= n - 1;
  const variance = (vy - 2 * r * cxy + r * r * vx) / (n * mx * mx);
  return estimate(r, Math.sqrt(Math.max(0, variance)));
}

export function meanMetric(xs: readonly number[]): MetricEstimate {
  const n = xs.length;
  const m = xs.reduce((s, x) => s + x, 0) / Math.max(1, n);
  if (n < 2) return estimate(m, 0);
  const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / (n - 1);
  return estimate(m, Math.sqrt(v / n));
}

/** Two independent estimates: difference, its 95% interval, lift over the control, two-sided z-test p-value. */
export function compare(treatment: MetricEstimate, control: MetricEstimate): Comparison {
  const difference = treatment.value - control.value;
  const se = Math.sqrt(treatment.se ** 2 + control.se ** 2);
  const pValue = se > 0 ? Math.min(1, 2 * (1 - normalCdf(Math.abs(difference) / se))) : difference === 0 ? 1 : 0;
  return {
    difference,
    ci95: [difference - Z95 * se, difference + Z95 * se],
    relativeLift: control.value !== 0 ? difference / control.value : 0,
    pValue,
    significant: pValue < 0.05,
  };
}

/** Groups exposed users (at least one impression) by their variant and reports every metric. */
export function experimentReport(e: Experiment, outcomes: readonly UserOutcome[]): VariantReport[] {
  const groups = new Map<string, UserOutcome[]>(e.variants.map((v) => [v.name, []]));
  for (const o of outcomes) if (o.impressions > 0) groups.get(assignVariant(e, o.userId).name)!.push(o);
  const base = e.variants.map((v) => {
    const us = groups.get(v.name)!;
    const sum = (f: (u: UserOutcome) => number) => us.reduce((s, u) => s + f(u), 0);
    const impressions = us.map((u) => u.impressions);
    return {
      variant: v.name,
      users: us.length,
      impressions: sum((u) => u.impressions),
      clicks: sum((u) => u.clicks),
      conversions: sum((u) => u.conversions),
      revenue: sum((u) => u.revenue),
      ctr: ratioMetric(
        us.map((u) => u.clicks),
        impressions,
      ),
      conversionRate: ratioMetric(
        us.map((u) => u.conversions),
        impressions,
      ),
      revenuePerUser: meanMetric(us.map((u) => u.revenue)),
    };
  });
  const control = base.find((b) => b.variant === controlOf(e))!;
  return base.map((b) => ({
    ...b,
    // no comparison without users on both sides (an arm nobody has been served yet)
    vsControl:
      b === control || b.users === 0 || control.users === 0
        ? null
        : {
            ctr: compare(b.ctr, control.ctr),
            conversionRate: compare(b.conversionRate, control.conversionRate),
            revenuePerUser: compare(b.revenuePerUser, control.revenuePerUser),
          },
  }));
}
