// Redis layout of the real-time features, written by the features processor and read by the reader.
// Every key of a tenant carries the hash tag {tenant} (one Redis Cluster slot per tenant, so a tenant's Lua update is
// atomic). Every key has a TTL and every collection a size bound, so memory is bounded. Each event is applied at most
// once: the Lua script sets a per-event marker (SET NX, TTL) and skips events whose marker exists, so a batch that is
// re-delivered after a crash does not count twice.
import type { Config } from '../config/config.ts';
import type { TenantFeaturePlan } from '../core/features/feature-updates.ts';
import type { ScoredItem } from '../core/funnel/filters.ts';
import { MAX_COUNTER_FIELDS, isExpiredField, type SessionState } from '../core/features/session-features.ts';
import type { Redis } from '../platform/redis.ts';

export const TENANTS_KEY = 'rs:tenants';
const prefix = (tenant: string) => `rs:{${tenant}}:`;
export const popularityKey = (tenant: string) => `${prefix(tenant)}pop`;
export const trendingKey = (tenant: string) => `${prefix(tenant)}trend`;
export const popularityMetaKey = (tenant: string) => `${prefix(tenant)}pop:meta`;
export const seenKey = (tenant: string, user: string) => `${prefix(tenant)}seen:${user}`;
export const recentKey = (tenant: string, user: string) => `${prefix(tenant)}recent:${user}`;
export const sessionKey = (tenant: string, user: string) => `${prefix(tenant)}sess:${user}`;
export const sessionItemsKey = (tenant: string, user: string) => `${prefix(tenant)}sessitems:${user}`;
export const userCountersKey = (tenant: string, user: string) => `${prefix(tenant)}cnt:u:${user}`;
export const itemCountersKey = (tenant: string, item: string) => `${prefix(tenant)}cnt:i:${item}`;
export const categoryCountersKey = (tenant: string, category: string) => `${prefix(tenant)}cnt:c:${category}`;
/** Tenant-wide counters: the prior of every smoothed rate. */
export const tenantCountersKey = (tenant: string) => `${prefix(tenant)}cnt:all`;

export type FeatureLimits = Pick<
  Config['features'],
  'maxItems' | 'ttlS' | 'seenMaxItems' | 'seenTtlS' | 'recentMaxItems' | 'dedupeTtlS'
>;

const EVENT_ARGS = 13;
const HEADER_ARGS = 14;

// ARGV header: prefix, prevEpoch ('' = none), epoch, rebaseLong, rebaseShort, latestEventMs, maxItems, ttl,
// seenMax, seenTtl, recentMax, dedupeTtl, counterTtl, maxCounterFields; then EVENT_ARGS per event.
// Returns the number of events applied followed by the counter keys that outgrew maxCounterFields (to prune).
const APPLY_FEATURES = `
local p = ARGV[1]
local pop, trend, meta = p .. 'pop', p .. 'trend', p .. 'pop:meta'
local cur = redis.call('HGET', meta, 'epochMs')
if (ARGV[2] == '' and cur) or (ARGV[2] ~= '' and cur ~= ARGV[2]) then
  return redis.error_reply('EPOCH_CHANGED decay epoch moved concurrently; replan the batch')
end
if ARGV[4] ~= '1' then redis.call('ZUNIONSTORE', pop, 1, pop, 'WEIGHTS', ARGV[4]) end
if ARGV[5] ~= '1' then redis.call('ZUNIONSTORE', trend, 1, trend, 'WEIGHTS', ARGV[5]) end
redis.call('HSET', meta, 'epochMs', ARGV[3])
local latest = tonumber(redis.call('HGET', meta, 'latestEventMs') or '0')
if tonumber(ARGV[6]) > latest then redis.call('HSET', meta, 'latestEventMs', ARGV[6]) end
local ttl, seenMax, seenTtl, recentMax = ARGV[8], tonumber(ARGV[9]), ARGV[10], tonumber(ARGV[11])
local dedupeTtl, counterTtl, maxFields = ARGV[12], ARGV[13], tonumber(ARGV[14])
local applied, oversized, touchedUsers = 0, {}, {}
for i = ${HEADER_ARGS + 1}, #ARGV, ${EVENT_ARGS} do
  local eventId, user, item, category, ts = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local code, popInc, trendInc, marksSeen = ARGV[i + 5], ARGV[i + 6], ARGV[i + 7], ARGV[i + 8]
  local sessionId, sessionStart, newSession, fields = ARGV[i + 9], ARGV[i + 10], ARGV[i + 11], ARGV[i + 12]
  if redis.call('SET', p .. 'ev:features:' .. eventId, '1', 'NX', 'EX', dedupeTtl) then
    applied = applied + 1
    touchedUsers[user] = true
    if popInc ~= '0' then redis.call('ZINCRBY', pop, popInc, item) end
    if trendInc ~= '0' then redis.call('ZINCRBY', trend, trendInc, item) end
    local sess, sessItems = p .. 'sess:' .. user, p .. 'sessitems:' .. user
    if newSession == '1' then
      redis.call('DEL', sess, sessItems)
      redis.call('HSET', sess, 'id', sessionId, 'start', sessionStart, 'last', ts)
    elseif tonumber(ts) > tonumber(redis.call('HGET', sess, 'last') or '0') then
      redis.call('HSET', sess, 'last', ts)
    end
    redis.call('HINCRBY', sess, 'n', 1)
    redis.call('HINCRBY', sess, code, 1)
    redis.call('EXPIRE', sess, seenTtl)
    if marksSeen == '1' then
      redis.call('ZADD', p .. 'seen:' .. user, 'GT', ts, item)
      redis.call('LPUSH', p .. 'recent:' .. user, item)
      redis.call('LTRIM', p .. 'recent:' .. user, 0, recentMax - 1)
      redis.call('LPUSH', sessItems, item)
      redis.call('LTRIM', sessItems, 0, recentMax - 1)
      redis.call('EXPIRE', sessItems, seenTtl)
    end
    local ckeys = { p .. 'cnt:all', p .. 'cnt:u:' .. user, p .. 'cnt:i:' .. item }
    if category ~= '' then ckeys[4] = p .. 'cnt:c:' .. category end
    for _, ck in ipairs(ckeys) do
      for f in string.gmatch(fields, '[^|]+') do redis.call('HINCRBY', ck, f, 1) end
      redis.call('EXPIRE', ck, counterTtl)
      if redis.call('HLEN', ck) > maxFields then oversized[ck] = true end
    end
  end
end
for user, _ in pairs(touchedUsers) do
  local seen, recent = p .. 'seen:' .. user, p .. 'recent:' .. user
  local n = redis.call('ZCARD', seen)
  if n > seenMax then redis.call('ZREMRANGEBYRANK', seen, 0, n - seenMax - 1) end
  redis.call('EXPIRE', seen, seenTtl)
  redis.call('EXPIRE', recent, seenTtl)
end
local maxItems = tonumber(ARGV[7])
for _, z in ipairs({ pop, trend }) do
  local n = redis.call('ZCARD', z)
  if n > maxItems then redis.call('ZREMRANGEBYRANK', z, 0, n - maxItems - 1) end
  redis.call('EXPIRE', z, ttl)
end
redis.call('EXPIRE', meta, ttl)
local out = { applied }
for k, _ in pairs(oversized) do out[#out + 1] = k end
return out
`;

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
        prefix(plan.tenant),
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

export interface FeedInputs {
  tenantKnown: boolean;
  seen: Set<string>;
  epochMs: number | null;
  latestEventMs: number | null;
  /** The user's most recent items, newest first (session-based retrieval for a user without a vector yet). */
  recent: string[];
}

/** Whether the tenant exists, the user's seen and recent items and the tenant's decay metadata, in one round trip. */
export async function readFeedInputs(redis: Redis, tenant: string, user: string): Promise<FeedInputs> {
  const results =
    (await redis
      .pipeline()
      .sismember(TENANTS_KEY, tenant)
      .zrange(seenKey(tenant, user), '0', '-1')
      .hmget(popularityMetaKey(tenant), 'epochMs', 'latestEventMs')
      .lrange(recentKey(tenant, user), 0, 19)
      .exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const seen = (results[1]?.[1] as string[] | undefined) ?? [];
  const [epoch, latest] = (results[2]?.[1] as (string | null)[] | undefined) ?? [null, null];
  return {
    tenantKnown: results[0]?.[1] === 1,
    seen: new Set(seen),
    epochMs: epoch ? Number(epoch) : null,
    latestEventMs: latest ? Number(latest) : null,
    recent: (results[3]?.[1] as string[] | undefined) ?? [],
  };
}

// KEYS: a ranked zset, the user's seen zset. ARGV: need, most members to scan, min score, then excluded ids.
// Walks the zset from the top in pages and returns (member, score) pairs of the first `need` members the user has not
// seen and did not exclude: one round trip and a few pairs on the wire, where reading k + |seen| members would ship
// hundreds to the reader for a heavy user.
const TOP_UNSEEN = `
local need = tonumber(ARGV[1])
local maxScan = tonumber(ARGV[2])
local ex = {}
for i = 4, #ARGV do ex[ARGV[i]] = true end
local out = {}
local got = 0
local offset = 0
local page = math.max(need * 2, 32)
while got < need and offset < maxScan do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', ARGV[3], 'WITHSCORES', 'LIMIT', offset, page)
  for i = 1, #rows, 2 do
    local m = rows[i]
    if not ex[m] and not redis.call('ZSCORE', KEYS[2], m) then
      out[#out + 1] = m
      out[#out + 1] = rows[i + 1]
      got = got + 1
      if got >= need then break end
    end
  end
  if #rows < page * 2 then break end
  offset = offset + page
end
return out
`;

export interface TopUnseenQuery {
  key: string;
  /** The user's seen zset (a key that does not exist when nothing counts as seen). */
  seenKey: string;
  exclude: readonly string[];
  need: number;
  maxScan: number;
  /** Lowest score to consider (e.g. a creation-time bound), default -inf. */
  minScore?: number;
}

type Pipeline = ReturnType<Redis['pipeline']>;

/** Queues a TOP_UNSEEN call on a pipeline (parse its reply with scoredPairs). */
export function queueTopUnseen(pipe: Pipeline, q: TopUnseenQuery): Pipeline {
  return pipe.eval(
    TOP_UNSEEN,
    2,
    q.key,
    q.seenKey,
    q.need,
    q.maxScan,
    q.minScore === undefined ? '-inf' : String(q.minScore),
    ...q.exclude,
  );
}

/** The first `need` members of a ranked zset the user has not seen nor excluded, best first. */
export async function readTopUnseen(redis: Redis, q: TopUnseenQuery): Promise<ScoredItem[]> {
  const [[err, reply] = [null, []]] = (await queueTopUnseen(redis.pipeline(), q).exec()) ?? [];
  if (err) throw err;
  return scoredPairs(reply as string[]);
}

/** A sorted-set reply WITHSCORES ([member, score, member, score…]) as scored items. */
export function scoredPairs(flat: readonly string[]): ScoredItem[] {
  const out: ScoredItem[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ itemId: flat[i]!, score: Number(flat[i + 1]) });
  return out;
}

export interface UserFeatureData {
  session: {
    id: string;
    startMs: number;
    lastMs: number;
    events: number;
    counts: Record<string, number>;
    items: string[];
  } | null;
  recentItems: string[];
  counters: Record<string, string>;
  latestEventMs: number | null;
}

/** Everything stored about a user, in one round trip. */
export async function readUserFeatureData(redis: Redis, tenant: string, user: string): Promise<UserFeatureData> {
  const results =
    (await redis
      .pipeline()
      .hgetall(sessionKey(tenant, user))
      .lrange(sessionItemsKey(tenant, user), 0, -1)
      .lrange(recentKey(tenant, user), 0, -1)
      .hgetall(userCountersKey(tenant, user))
      .hget(popularityMetaKey(tenant), 'latestEventMs')
      .exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const sess = (results[0]?.[1] ?? {}) as Record<string, string>;
  const latest = results[4]?.[1] as string | null;
  return {
    session: sess.id
      ? {
          id: sess.id,
          startMs: Number(sess.start),
          lastMs: Number(sess.last),
          events: Number(sess.n ?? 0),
          counts: {
            impression: Number(sess.i ?? 0),
            click: Number(sess.c ?? 0),
            engagement: Number(sess.e ?? 0),
            conversion: Number(sess.v ?? 0),
          },
          items: (results[1]?.[1] as string[] | undefined) ?? [],
        }
      : null,
    recentItems: (results[2]?.[1] as string[] | undefined) ?? [],
    counters: (results[3]?.[1] ?? {}) as Record<string, string>,
    latestEventMs: latest ? Number(latest) : null,
  };
}

export interface ItemFeatureData {
  counters: Record<string, string>;
  categoryCounters: Record<string, string> | null;
  tenantCounters: Record<string, string>;
  popularity: number | null;
  trending: number | null;
  epochMs: number | null;
  latestEventMs: number | null;
}

export async function readItemFeatureData(
  redis: Redis,
  tenant: string,
  item: string,
  category: string | null,
): Promise<ItemFeatureData> {
  const pipe = redis
    .pipeline()
    .hgetall(itemCountersKey(tenant, item))
    .hgetall(tenantCountersKey(tenant))
    .zscore(popularityKey(tenant), item)
    .zscore(trendingKey(tenant), item)
    .hmget(popularityMetaKey(tenant), 'epochMs', 'latestEventMs');
  if (category) pipe.hgetall(categoryCountersKey(tenant, category));
  const results = (await pipe.exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const [epoch, latest] = (results[4]?.[1] as (string | null)[] | undefined) ?? [null, null];
  const num = (v: unknown) => (typeof v === 'string' ? Number(v) : null);
  return {
    counters: (results[0]?.[1] ?? {}) as Record<string, string>,
    tenantCounters: (results[1]?.[1] ?? {}) as Record<string, string>,
    popularity: num(results[2]?.[1]),
    trending: num(results[3]?.[1]),
    epochMs: num(epoch),
    latestEventMs: num(latest),
    categoryCounters: category ? ((results[5]?.[1] ?? {}) as Record<string, string>) : null,
  };
}
