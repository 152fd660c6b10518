// Redis layout of the popularity and seen state, shared by the popularity processor (writes) and the reader (reads).
// Every key of a tenant carries the hash tag {tenant}, so a tenant lives on one Redis Cluster slot and its Lua
// update is atomic. Every key has a TTL, and the sorted sets are trimmed to a fixed size, so memory is bounded.
import type { Redis } from '../platform/redis.ts';
import type { TenantUpdate } from '../core/popularity.ts';
import type { ScoredItem } from '../core/feed.ts';

export const TENANTS_KEY = 'rs:tenants';
export const popularityKey = (tenant: string) => `rs:{${tenant}}:pop`;
export const popularityMetaKey = (tenant: string) => `rs:{${tenant}}:pop:meta`;
export const seenKey = (tenant: string, user: string) => `rs:{${tenant}}:seen:${user}`;

export interface StoreLimits {
  maxItems: number;
  ttlS: number;
  seenMaxItems: number;
  seenTtlS: number;
}

// Compare-and-set on the tenant's decay epoch, then rebase, increment, trim and refresh TTLs, atomically.
const APPLY_POPULARITY = `
local cur = redis.call('HGET', KEYS[2], 'epochMs')
if (ARGV[1] == '' and cur) or (ARGV[1] ~= '' and cur ~= ARGV[1]) then
  return redis.error_reply('EPOCH_CHANGED decay epoch moved concurrently; replan the batch')
end
if ARGV[3] ~= '1' then redis.call('ZUNIONSTORE', KEYS[1], 1, KEYS[1], 'WEIGHTS', ARGV[3]) end
redis.call('HSET', KEYS[2], 'epochMs', ARGV[2])
local latest = tonumber(redis.call('HGET', KEYS[2], 'latestEventMs') or '0')
if tonumber(ARGV[4]) > latest then redis.call('HSET', KEYS[2], 'latestEventMs', ARGV[4]) end
for i = 7, #ARGV, 2 do redis.call('ZINCRBY', KEYS[1], ARGV[i + 1], ARGV[i]) end
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[5])
if n > max then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
return 1
`;

/** Current decay epochs of the given tenants (null where the tenant has no scores yet). */
export async function readEpochs(redis: Redis, tenants: string[]): Promise<Map<string, { epochMs: number | null }>> {
  const pipe = redis.pipeline();
  for (const t of tenants) pipe.hget(popularityMetaKey(t), 'epochMs');
  const results = (await pipe.exec()) ?? [];
  const out = new Map<string, { epochMs: number | null }>();
  tenants.forEach((t, i) => {
    const [err, value] = results[i] ?? [null, null];
    if (err) throw err;
    out.set(t, { epochMs: typeof value === 'string' ? Number(value) : null });
  });
  return out;
}

export async function applyUpdates(redis: Redis, updates: TenantUpdate[], limits: StoreLimits): Promise<void> {
  const pipe = redis.pipeline();
  for (const u of updates) {
    const args: (string | number)[] = [u.previousEpochMs === null ? '' : String(u.previousEpochMs), String(u.epochMs), String(u.rebaseFactor), u.latestEventMs, limits.maxItems, limits.ttlS];
    for (const [item, inc] of u.increments) args.push(item, inc);
    pipe.eval(APPLY_POPULARITY, 2, popularityKey(u.tenant), popularityMetaKey(u.tenant), ...args);
    pipe.sadd(TENANTS_KEY, u.tenant);
    for (const [user, items] of u.seen) {
      const key = seenKey(u.tenant, user);
      const zargs: string[] = [];
      for (const [item, ts] of items) zargs.push(String(ts), item);
      pipe.zadd(key, 'GT', ...zargs);
      pipe.zremrangebyrank(key, 0, -(limits.seenMaxItems + 1));
      pipe.expire(key, limits.seenTtlS);
    }
  }
  const results = (await pipe.exec()) ?? [];
  const failed = results.find(([err]) => err);
  if (failed?.[0]) throw failed[0];
}

export interface FeedInputs {
  tenantKnown: boolean;
  userKnown: boolean;
  seen: Set<string>;
  epochMs: number | null;
  latestEventMs: number | null;
}

/** Tenant/user existence, the user's seen items and the tenant's decay metadata, in one round trip. */
export async function readFeedInputs(redis: Redis, tenant: string, user: string): Promise<FeedInputs> {
  const results = (await redis
    .pipeline()
    .sismember(TENANTS_KEY, tenant)
    .zrange(seenKey(tenant, user), '0', '-1')
    .hmget(popularityMetaKey(tenant), 'epochMs', 'latestEventMs')
    .exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const isMember = results[0]?.[1] === 1;
  const seen = (results[1]?.[1] as string[] | undefined) ?? [];
  const [epoch, latest] = (results[2]?.[1] as (string | null)[] | undefined) ?? [null, null];
  return {
    tenantKnown: isMember,
    userKnown: seen.length > 0,
    seen: new Set(seen),
    epochMs: epoch ? Number(epoch) : null,
    latestEventMs: latest ? Number(latest) : null,
  };
}

/** The tenant's top items by stored (forward-decay) score, descending. */
export async function readTopItems(redis: Redis, tenant: string, count: number): Promise<ScoredItem[]> {
  const flat = await redis.zrevrange(popularityKey(tenant), 0, count - 1, 'WITHSCORES');
  const out: ScoredItem[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push({ itemId: flat[i]!, score: Number(flat[i + 1]) });
  return out;
}
