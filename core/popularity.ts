// Time-decayed item popularity with forward decay: an event of weight w at time t adds w * 2^((t - epoch) / halfLife)
// to the item's score. Scores only ever grow, so the store needs nothing but atomic increments, and the ranking at
// any moment equals the ranking of exponentially decayed counts. When the exponent grows large the tenant's epoch
// moves forward and every stored score is multiplied by the same factor (a "rebase"), keeping numbers finite.
import type { EventType, InteractionEvent } from './events.ts';

export interface PopularityParams {
  halfLifeMs: number;
  weights: Record<EventType, number>;
  /** Rebase once an increment would be scaled by more than 2^maxExponent. */
  maxExponent: number;
}

export const DEFAULT_WEIGHTS: Record<EventType, number> = { impression: 0, click: 1, engagement: 3, conversion: 5 };

export function popularityParams(halfLifeS: number, weights: Record<EventType, number> = DEFAULT_WEIGHTS): PopularityParams {
  return { halfLifeMs: halfLifeS * 1000, weights, maxExponent: 40 };
}

export interface TenantDecayState {
  /** Reference time of the stored scores, epoch ms; null for a tenant with no scores yet. */
  epochMs: number | null;
}

export interface TenantUpdate {
  tenant: string;
  /** Epoch the increments are expressed in (written back when it changed). */
  epochMs: number;
  /** Multiply existing scores by this before adding increments (1 = no rebase). */
  rebaseFactor: number;
  previousEpochMs: number | null;
  increments: Map<string, number>;
  /** user -> item -> latest interaction time (ms), for the seen filter. */
  seen: Map<string, Map<string, number>>;
  latestEventMs: number;
}

export function forwardWeight(weight: number, eventMs: number, epochMs: number, halfLifeMs: number): number {
  return weight * 2 ** ((eventMs - epochMs) / halfLifeMs);
}

/** Plans the Redis writes for a batch: per tenant, aggregated score increments and seen updates. Pure. */
export function planPopularityUpdate(events: readonly InteractionEvent[], state: ReadonlyMap<string, TenantDecayState>, params: PopularityParams): TenantUpdate[] {
  const byTenant = new Map<string, InteractionEvent[]>();
  for (const e of events) {
    const list = byTenant.get(e.tenant);
    if (list) list.push(e);
    else byTenant.set(e.tenant, [e]);
  }
  const updates: TenantUpdate[] = [];
  for (const [tenant, list] of byTenant) {
    let latestEventMs = -Infinity;
    let earliestEventMs = Infinity;
    for (const e of list) {
      latestEventMs = Math.max(latestEventMs, e.timestamp);
      earliestEventMs = Math.min(earliestEventMs, e.timestamp);
    }
    const previous = state.get(tenant)?.epochMs ?? null;
    let epochMs = previous ?? earliestEventMs;
    let rebaseFactor = 1;
    if ((latestEventMs - epochMs) / params.halfLifeMs > params.maxExponent) {
      // Move the epoch to the newest event: old scores shrink by the decay they accrued meanwhile.
      const newEpoch = latestEventMs;
      rebaseFactor = 2 ** (-(newEpoch - epochMs) / params.halfLifeMs);
      epochMs = newEpoch;
    }
    const increments = new Map<string, number>();
    const seen = new Map<string, Map<string, number>>();
    for (const e of list) {
      const w = params.weights[e.type];
      if (w !== 0) increments.set(e.itemId, (increments.get(e.itemId) ?? 0) + forwardWeight(w, e.timestamp, epochMs, params.halfLifeMs));
      if (e.type !== 'impression') {
        let items = seen.get(e.userId);
        if (!items) seen.set(e.userId, (items = new Map()));
        items.set(e.itemId, Math.max(items.get(e.itemId) ?? 0, e.timestamp));
      }
    }
    updates.push({ tenant, epochMs, rebaseFactor, previousEpochMs: previous, increments, seen, latestEventMs });
  }
  return updates;
}

/** Converts a stored forward-decay score into the decayed score as of `asOfMs`. */
export function decayedScore(storedScore: number, epochMs: number, asOfMs: number, halfLifeMs: number): number {
  return storedScore * 2 ** (-(asOfMs - epochMs) / halfLifeMs);
}
