// Plans the Redis writes of one batch of events: per tenant, per event (so the store can apply each event at most
// once, keyed by event id), the popularity and trending increments, the seen/recent updates, the session the event
// belongs to and the counter buckets it increments. Pure.
import type { InteractionEvent } from '../events.ts';
import { forwardWeight, planEpoch, type DecayParams, type EpochPlan } from './popularity.ts';
import { TYPE_CODE, counterFields, sessionFor, type SessionState } from './session-features.ts';

export interface EventOp {
  eventId: string;
  user: string;
  item: string;
  /** Empty when the event carries no category in its context. */
  category: string;
  timestampMs: number;
  typeCode: string;
  popularityInc: number;
  trendingInc: number;
  /** Impressions are not "seen" for filtering: the user did not act on the item. */
  marksSeen: boolean;
  sessionId: string;
  sessionStartMs: number;
  newSession: boolean;
  counterFields: string[];
}

export interface TenantFeaturePlan extends EpochPlan {
  tenant: string;
  previousEpochMs: number | null;
  latestEventMs: number;
  ops: EventOp[];
}

export interface FeatureState {
  epochs: ReadonlyMap<string, number | null>;
  /** Keyed `${tenant}/${user}`. */
  sessions: ReadonlyMap<string, SessionState | null>;
}

export const sessionStateKey = (tenant: string, user: string) => `${tenant}/${user}`;

export function planFeatureBatch(
  events: readonly InteractionEvent[],
  state: FeatureState,
  params: DecayParams,
): TenantFeaturePlan[] {
  const byTenant = new Map<string, InteractionEvent[]>();
  for (const e of events) {
    const list = byTenant.get(e.tenant);
    if (list) list.push(e);
    else byTenant.set(e.tenant, [e]);
  }
  const plans: TenantFeaturePlan[] = [];
  for (const [tenant, list] of byTenant) {
    let latest = -Infinity;
    let earliest = Infinity;
    for (const e of list) {
      latest = Math.max(latest, e.timestamp);
      earliest = Math.min(earliest, e.timestamp);
    }
    const previousEpochMs = state.epochs.get(tenant) ?? null;
    const epoch = planEpoch(previousEpochMs, earliest, latest, params);
    const sessions = new Map<string, SessionState | null>();
    const ops: EventOp[] = list.map((e) => {
      const key = sessionStateKey(tenant, e.userId);
      const current = sessions.has(key) ? sessions.get(key)! : (state.sessions.get(key) ?? null);
      const { session, isNew } = sessionFor(e.userId, e.timestamp, current);
      sessions.set(key, session);
      const w = params.weights[e.type];
      return {
        eventId: e.eventId,
        user: e.userId,
        item: e.itemId,
        category: e.context.category ?? '',
        timestampMs: e.timestamp,
        typeCode: TYPE_CODE[e.type],
        popularityInc: w === 0 ? 0 : forwardWeight(w, e.timestamp, epoch.epochMs, params.longHalfLifeMs),
        trendingInc: w === 0 ? 0 : forwardWeight(w, e.timestamp, epoch.epochMs, params.shortHalfLifeMs),
        marksSeen: e.type !== 'impression',
        sessionId: session.id,
        sessionStartMs: session.startMs,
        newSession: isNew,
        counterFields: counterFields(e.type, e.timestamp),
      };
    });
    plans.push({ tenant, previousEpochMs, latestEventMs: latest, ...epoch, ops });
  }
  return plans;
}
