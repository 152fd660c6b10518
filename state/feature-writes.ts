// The write side of the real-time features: what the features processor reads before planning a batch (decay epochs,
// sessions) and the atomic apply of its plans (state/lua/apply-features.lua). Every key has a TTL and every collection
// a size bound, so memory is bounded. Each event is applied at most once: the script sets a per-event marker (SET NX,
// TTL) and skips events whose marker exists, so a batch that is re-delivered after a crash does not count twice.
import type { Config } from '../config/config.ts';
import type { TenantFeaturePlan } from '../core/features/feature-updates.ts';
import { MAX_COUNTER_FIELDS, isExpiredField, type SessionState } from '../core/features/session-features.ts';
import type { Redis } from '../platform/redis.ts';
import { TENANTS_KEY, popularityKey, popularityMetaKey, sessionKey, tenantKeyPrefix } from './keys.ts';
import { luaScript } from './lua-scripts.ts';

export type FeatureLimits = Pick<
  Config['features'],
  'maxItems' | 'ttlS' | 'seenMaxItems' | 'seenTtlS' | 'recentMaxItems' | 'dedupeTtlS'
>;

const EVENT_ARGS = 13;
const HEADER_ARGS = 14;
const APPLY_FEATURES = luaScript('apply-features');
// The script walks ARGV with these two numbers spelled out: a change here must change it too.
if (!APPLY_FEATURES.includes(`for i = ${HEADER_ARGS + 1}, #ARGV, ${EVENT_ARGS} do`))
  throw new Error('state/lua/apply-features.lua does not walk ARGV by HEADER_ARGS and EVENT_ARGS');

export interface FeatureStateRead {
  epochs: Map<string, number | null>;
  sessions: Map<string, SessionState | null>;
}

/** Decay epochs of the tenants and current sessions of the users in a batch, in one round trip. */
export async function readFeatureState(
  redis: Redis,
  tenants: string[],
  users: { tenant: string; user: string }[],
): Promise<FeatureStateRead> {
  const pipe = redis.pipeline();
  for (const t of tenants) pipe.hget(popularityMetaKey(t), 'epochMs');
  for (const { tenant, user } of users) pipe.hmget(sessionKey(tenant, user), 'id', 'start', 'last');
  const results = (await pipe.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const epochs = new Map<string, number | null>();
  tenants.forEach((t, i) => {
    const v = results[i]?.[1];
    epochs.set(t, typeof v === 'string' ? Number(v) : null);
  });
  const sessions = new Map<string, SessionState | null>();
  users.forEach(({ tenant, user }, j) => {
    const [id, start, last] = (results[tenants.length + j]?.[1] as (string | null)[] | undefined) ?? [];
    sessions.set(
      `${tenant}/${user}`,
      id && start && last ? { id, startMs: Number(start), lastMs: Number(last) } : null,
    );
  });
  return { epochs, sessions };
}

/** Events per Lua call: a script blocks Redis while it runs, so large batches go in slices. */
const SLICE = 500;

/** Applies the plans (atomically per tenant slice); returns how many events were new (not already applied). */
export async function applyFeaturePlans(
  redis: Redis,
  plans: TenantFeaturePlan[],
  limits: FeatureLimits,
): Promise<number> {
  const pipe = redis.pipeline();
  const sliceTenants: TenantFeaturePlan[] = [];
  for (const plan of plans) {
    for (let start = 0; start < plan.ops.length; start += SLICE) {
      // Only the first slice moves the epoch; later ones find it already moved.
      const first = start === 0;
      const args: (string | number)[] = [
        tenantKeyPrefix(plan.tenant),
        first ? (plan.previousEpochMs === null ? '' : String(plan.previousEpochMs)) : String(plan.epochMs),
        String(plan.epochMs),
        first ? String(plan.rebaseLong) : '1',
        first ? String(plan.rebaseShort) : '1',
        plan.latestEventMs,
        limits.maxItems,
        limits.ttlS,
        limits.seenMaxItems,
        limits.seenTtlS,
        limits.recentMaxItems,
        limits.dedupeTtlS,
        8 * 86_400, // counters: one day beyond the longest window
        MAX_COUNTER_FIELDS,
      ];
      for (const op of plan.ops.slice(start, start + SLICE)) {
        args.push(
          op.eventId,
          op.user,
          op.item,
          op.category,
          op.timestampMs,
          op.typeCode,
          op.popularityInc,
          op.trendingInc,
          op.marksSeen ? '1' : '0',
          op.sessionId,
          op.sessionStartMs,
          op.newSession ? '1' : '0',
          op.counterFields.join('|'),
        );
      }
      pipe.eval(APPLY_FEATURES, 1, popularityKey(plan.tenant), ...args);
      sliceTenants.push(plan);
    }
    pipe.sadd(TENANTS_KEY, plan.tenant);
  }
  const results = (await pipe.exec()) ?? [];
  let applied = 0;
  const oversized: { key: string; nowMs: number }[] = [];
  let slice = 0;
  for (const [err, value] of results) {
    if (err) throw err;
    if (!Array.isArray(value)) continue; // SADD replies
    applied += Number(value[0]);
    const nowMs = sliceTenants[slice++]!.latestEventMs;
    for (const key of value.slice(1)) oversized.push({ key: String(key), nowMs });
  }
  for (const { key, nowMs } of oversized) await pruneCounters(redis, key, nowMs);
  return applied;
}

/** Deletes counter buckets that fell out of every window (run only when a hash outgrew its bound). */
async function pruneCounters(redis: Redis, key: string, nowMs: number): Promise<void> {
  const expired = (await redis.hkeys(key)).filter((f) => isExpiredField(f, nowMs));
  if (expired.length > 0) await redis.hdel(key, ...expired);
}
