// Reads a user's or an item's real-time features: windowed counts, smoothed rates, session, popularity, trending.
// Windows are evaluated at the tenant's latest event time (event time drives everything, so a replay of old data
// reads as it would have live).
import { decayedScore } from '../core/features/popularity.ts';
import {
  betaPrior,
  smoothedRate,
  trendingScore,
  windowCounts,
  type WindowCounts,
  type WindowName,
} from '../core/features/session-features.ts';
import type { Redis } from '../platform/redis.ts';
import { readItemFeatureData, readTenantCounters, readUserFeatureData } from '../state/features.ts';
import { isKnownTenant } from '../state/tenants.ts';

export interface RateByWindow {
  ctr: Record<WindowName, number>;
}

export interface UserFeatures extends RateByWindow {
  asOfMs: number | null;
  session: {
    id: string;
    startMs: number;
    lastMs: number;
    durationMs: number;
    events: number;
    counts: Record<string, number>;
    items: string[];
  } | null;
  recentItems: string[];
  windows: WindowCounts;
}

export interface ItemFeatures extends RateByWindow {
  asOfMs: number | null;
  windows: WindowCounts;
  categoryCtr7d: number | null;
  popularity: number;
  trending: number;
}

export interface FeatureParams {
  halfLifeMs: number;
  trendingHalfLifeMs: number;
  priorStrength: number;
}

function ctrs(windows: WindowCounts, tenant: WindowCounts, strength: number): Record<WindowName, number> {
  const out = {} as Record<WindowName, number>;
  const globalRate = tenant['7d'].impression > 0 ? tenant['7d'].click / tenant['7d'].impression : 0.05;
  const prior = betaPrior(globalRate, strength);
  for (const w of Object.keys(windows) as WindowName[])
    out[w] = smoothedRate(windows[w].click, windows[w].impression, prior);
  return out;
}

export class FeatureService {
  constructor(
    private readonly redis: Redis,
    private readonly params: FeatureParams,
  ) {}

  tenantKnown(tenant: string): Promise<boolean> {
    return isKnownTenant(this.redis, tenant);
  }

  async user(tenant: string, user: string): Promise<UserFeatures> {
    const d = await readUserFeatureData(this.redis, tenant, user);
    const now = d.latestEventMs ?? 0;
    const windows = windowCounts(d.counters, now);
    const tenantWindows = windowCounts(await readTenantCounters(this.redis, tenant), now);
    return {
      asOfMs: d.latestEventMs,
      session: d.session ? { ...d.session, durationMs: d.session.lastMs - d.session.startMs } : null,
      recentItems: d.recentItems,
      windows,
      ctr: ctrs(windows, tenantWindows, this.params.priorStrength),
    };
  }

  async item(tenant: string, item: string, category: string | null = null): Promise<ItemFeatures> {
    const d = await readItemFeatureData(this.redis, tenant, item, category);
    const now = d.latestEventMs ?? 0;
    const epoch = d.epochMs ?? now;
    const windows = windowCounts(d.counters, now);
    const tenantWindows = windowCounts(d.tenantCounters, now);
    const long = decayedScore(d.popularity ?? 0, epoch, now, this.params.halfLifeMs);
    const short = decayedScore(d.trending ?? 0, epoch, now, this.params.trendingHalfLifeMs);
    let categoryCtr7d: number | null = null;
    if (d.categoryCounters) {
      const c = windowCounts(d.categoryCounters, now);
      categoryCtr7d = ctrs(c, tenantWindows, this.params.priorStrength)['7d'];
    }
    return {
      asOfMs: d.latestEventMs,
      windows,
      ctr: ctrs(windows, tenantWindows, this.params.priorStrength),
      categoryCtr7d,
      popularity: long,
      trending: trendingScore(short, long, this.params.trendingHalfLifeMs, this.params.halfLifeMs),
    };
  }
}
