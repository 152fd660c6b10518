// Real-time features of users, sessions, items and categories: bucketed windowed counters, Bayesian-smoothed rates,
// sessions that end after 30 minutes idle, and trending. Pure: the Redis adapter stores the buckets; these functions
// say which buckets an event touches and what a set of stored buckets means at a given time.
import type { EventType } from '../events.ts';

/** One-letter codes keep counter field names short: memory per user and item matters. */
export const TYPE_CODE: Record<EventType, 'i' | 'c' | 'e' | 'v'> = {
  impression: 'i',
  click: 'c',
  engagement: 'e',
  conversion: 'v',
};

/** Windows and the bucket size that serves each: memory per counter hash stays at most 12 + 24 + 7 fields per type. */
export const WINDOWS = [
  { name: '1h', granularity: 'm', bucketMs: 5 * 60_000, buckets: 12 },
  { name: '24h', granularity: 'h', bucketMs: 3_600_000, buckets: 24 },
  { name: '7d', granularity: 'd', bucketMs: 86_400_000, buckets: 7 },
] as const;
export type WindowName = (typeof WINDOWS)[number]['name'];

/** The largest number of fields a counter hash holds when fully pruned (4 types x 43 buckets). */
export const MAX_COUNTER_FIELDS = 4 * WINDOWS.reduce((n, w) => n + w.buckets, 0);

export const SESSION_IDLE_MS = 30 * 60_000;

/** Counter fields an event increments, e.g. "c:h:417683" = clicks in hour 417683 since the epoch. */
export function counterFields(type: EventType, timestampMs: number): string[] {
  const code = TYPE_CODE[type];
  return WINDOWS.map((w) => `${code}:${w.granularity}:${Math.floor(timestampMs / w.bucketMs)}`);
}

/** True when a stored field's bucket can no longer contribute to its window as of `nowMs` (safe to delete). */
export function isExpiredField(field: string, nowMs: number): boolean {
  const [, granularity, bucket] = field.split(':');
  const w = WINDOWS.find((x) => x.granularity === granularity);
  if (!w || bucket === undefined) return true;
  return Number(bucket) <= Math.floor(nowMs / w.bucketMs) - w.buckets;
}

export type WindowCounts = Record<WindowName, Record<EventType, number>>;

/**
 * The counter fields that make up one window of the given types as of `nowMs`, `buckets` fields per type in `types`
 * order: an HMGET of these reads one window of a hash that holds all three.
 */
export function windowFieldNames(name: WindowName, types: readonly EventType[], nowMs: number): string[] {
  const w = WINDOWS.find((x) => x.name === name)!;
  const current = Math.floor(nowMs / w.bucketMs);
  return types.flatMap((t) =>
    Array.from({ length: w.buckets }, (_, k) => `${TYPE_CODE[t]}:${w.granularity}:${current - k}`),
  );
}

/** Sums stored buckets into per-window counts as of `nowMs` (the window includes the current, partial bucket). */
export function windowCounts(fields: Readonly<Record<string, string | number>>, nowMs: number): WindowCounts {
  const out = {} as WindowCounts;
  for (const w of WINDOWS) out[w.name] = { impression: 0, click: 0, engagement: 0, conversion: 0 };
  const types = Object.entries(TYPE_CODE) as [EventType, string][];
  for (const [field, raw] of Object.entries(fields)) {
    const [code, granularity, bucket] = field.split(':');
    const w = WINDOWS.find((x) => x.granularity === granularity);
    const type = types.find(([, c]) => c === code)?.[0];
    if (!w || !type || bucket === undefined) continue;
    const current = Math.floor(nowMs / w.bucketMs);
    const b = Number(bucket);
    if (b > current - w.buckets && b <= current) out[w.name][type] += Number(raw);
  }
  return out;
}

export interface BetaPrior {
  /** Prior successes and failures: the global rate as a pseudo-count of `strength` trials. */
  alpha: number;
  beta: number;
}

export function betaPrior(globalRate: number, strength: number): BetaPrior {
  const rate = Math.min(Math.max(globalRate, 1e-6), 1 - 1e-6);
  return { alpha: rate * strength, beta: (1 - rate) * strength };
}

/** Posterior mean of a rate: an item with 1 click out of 1 impression is not a 100% CTR item. */
export function smoothedRate(successes: number, trials: number, prior: BetaPrior): number {
  return (successes + prior.alpha) / (Math.max(trials, successes) + prior.alpha + prior.beta);
}

/**
 * Trending: how much faster an item is gathering interest now than usual. Ratio of the short-half-life decayed
 * score to the long one, both decayed to the same instant, smoothed so an item with one fresh click does not top it.
 */
export function trendingScore(
  shortScore: number,
  longScore: number,
  shortHalfLifeMs: number,
  longHalfLifeMs: number,
  smoothing = 1,
): number {
  // In steady state shortScore/longScore -> shortHalfLife/longHalfLife; normalise so steady = 1.
  const steady = shortHalfLifeMs / longHalfLifeMs;
  return (shortScore + smoothing * steady) / (longScore * steady + smoothing * steady);
}

export interface SessionState {
  id: string;
  startMs: number;
  lastMs: number;
}

/** The session an event belongs to: the current one unless it has been idle for more than 30 minutes. */
export function sessionFor(
  user: string,
  timestampMs: number,
  current: SessionState | null,
): { session: SessionState; isNew: boolean } {
  if (current && timestampMs - current.lastMs <= SESSION_IDLE_MS) {
    return { session: { ...current, lastMs: Math.max(current.lastMs, timestampMs) }, isNew: false };
  }
  return { session: { id: `${user}@${timestampMs}`, startMs: timestampMs, lastMs: timestampMs }, isNew: true };
}
