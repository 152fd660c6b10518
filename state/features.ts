// The read side of the real-time features (written by the features processor through state/feature-writes.ts): what a
// feed needs about the user and the tenant, the ranked rails without the user's seen items, and everything stored
// about a user or an item for the features API. Keys: state/keys.ts.
import type { ScoredItem } from '../core/funnel/filters.ts';
import type { Redis } from '../platform/redis.ts';
import {
  TENANTS_KEY,
  categoryCountersKey,
  itemCountersKey,
  popularityKey,
  popularityMetaKey,
  recentKey,
  seenKey,
  sessionItemsKey,
  sessionKey,
  tenantCountersKey,
  trendingKey,
  userCountersKey,
} from './keys.ts';
import { luaScript } from './lua-scripts.ts';

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

// Pages down a ranked zset skipping seen and excluded members (the script's header says how).
const TOP_UNSEEN = luaScript('top-unseen');

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

/** The tenant-wide counters (the prior of every smoothed rate). */
export function readTenantCounters(redis: Redis, tenant: string): Promise<Record<string, string>> {
  return redis.hgetall(tenantCountersKey(tenant));
}
