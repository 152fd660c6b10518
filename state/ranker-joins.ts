// The ranker trainer's join state in Redis, so it survives restarts: impressions of served items (with the context
// they were ranked with) waiting for their attribution window to close, the first click and the first conversion on
// each, and a due queue of impressions by the event time their window closes. An impression is identified by its
// recommendation id and item id (member `<rec>|<item>`). Keys: rankerImpressionKey, rankerClickKey,
// rankerConversionKey and rankerDueKey in state/keys.ts. Writes are idempotent: a re-delivered event rewrites the same
// keys, and only the first click or conversion is kept.
import type { RankingContext } from '../core/funnel/ranking-features.ts';
import type { Redis } from '../platform/redis.ts';
import { rankerClickKey, rankerConversionKey, rankerDueKey, rankerImpressionKey } from './keys.ts';

/** A served item's impression, waiting for its window. */
export interface PendingImpression {
  tenant: string;
  recommendationId: string;
  itemId: string;
  /** The context the item was ranked with (logged by serving). */
  context: RankingContext;
  /** Its slot in the feed. */
  position: number;
  userId: string;
  /** Event time (ms). */
  timestamp: number;
}

/** A click or conversion on a recommended item. */
export interface ImpressionOutcome {
  tenant: string;
  recommendationId: string;
  itemId: string;
  type: 'click' | 'conversion';
  /** Event time (ms). */
  timestamp: number;
}

/** An impression whose window closed, with what was joined to it. */
export interface DueImpression {
  recommendationId: string;
  itemId: string;
  /** The impression's stored fields; null when it expired or never reached us. */
  impression: { context: RankingContext; position: number; userId: string; shownAtMs: number } | null;
  /** Event time of the first click (ms, as stored), null when none. */
  clickedAt: string | null;
  /** Event time of the first conversion (ms, as stored), null when none. */
  convertedAt: string | null;
}

const member = (recommendationId: string, itemId: string) => `${recommendationId}|${itemId}`;

/**
 * Stores impressions (due when their window closes) and the first click or conversion on each item, in one round
 * trip. Everything expires after twice the window plus an hour, joined or not.
 */
export async function recordImpressionJoins(
  redis: Redis,
  impressions: readonly PendingImpression[],
  outcomes: readonly ImpressionOutcome[],
  attributionWindowMs: number,
): Promise<void> {
  const pipe = redis.pipeline();
  const ttlS = Math.ceil((2 * attributionWindowMs) / 1000) + 3600;
  for (const e of impressions) {
    const key = member(e.recommendationId, e.itemId);
    pipe
      .hset(
        rankerImpressionKey(e.tenant, key),
        'c',
        JSON.stringify(e.context),
        'pos',
        String(e.position),
        'u',
        e.userId,
        't',
        String(e.timestamp),
      )
      .expire(rankerImpressionKey(e.tenant, key), ttlS);
    pipe.zadd(rankerDueKey(e.tenant), e.timestamp + attributionWindowMs, key);
  }
  for (const e of outcomes) {
    // the first one counts (NX); whether it fell inside the window is decided when the window closes
    pipe.set(
      (e.type === 'click' ? rankerClickKey : rankerConversionKey)(e.tenant, member(e.recommendationId, e.itemId)),
      String(e.timestamp),
      'EX',
      ttlS,
      'NX',
    );
  }
  if (pipe.length > 0) for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
}

/** Up to `limit` impressions of the tenant whose window closed by event time `nowMs`, with their clicks and conversions. */
export async function readDueImpressions(
  redis: Redis,
  tenant: string,
  nowMs: number,
  limit: number,
): Promise<DueImpression[]> {
  const keys = await redis.zrangebyscore(rankerDueKey(tenant), '-inf', String(nowMs), 'LIMIT', 0, limit);
  if (keys.length === 0) return [];
  const pipe = redis.pipeline();
  for (const key of keys)
    pipe
      .hgetall(rankerImpressionKey(tenant, key))
      .get(rankerClickKey(tenant, key))
      .get(rankerConversionKey(tenant, key));
  const res = (await pipe.exec()) ?? [];
  return keys.map((key, i) => {
    const imp = res[3 * i]?.[1] as Record<string, string> | undefined;
    const sep = key.lastIndexOf('|');
    const at = (v: unknown) => (typeof v === 'string' ? v : null);
    return {
      recommendationId: key.slice(0, sep),
      itemId: key.slice(sep + 1),
      impression: imp?.c
        ? {
            context: JSON.parse(imp.c) as RankingContext,
            position: Number(imp.pos),
            userId: imp.u ?? '',
            shownAtMs: Number(imp.t ?? 0),
          }
        : null,
      clickedAt: at(res[3 * i + 1]?.[1]),
      convertedAt: at(res[3 * i + 2]?.[1]),
    };
  });
}

/** Removes joined impressions (their due entry, impression, click and conversion). */
export async function removeImpressionJoins(
  redis: Redis,
  tenant: string,
  due: readonly Pick<DueImpression, 'recommendationId' | 'itemId'>[],
): Promise<void> {
  const keys = due.map((d) => member(d.recommendationId, d.itemId));
  if (keys.length === 0) return;
  const done = redis.pipeline().zrem(rankerDueKey(tenant), ...keys);
  for (const key of keys)
    done.del(rankerImpressionKey(tenant, key), rankerClickKey(tenant, key), rankerConversionKey(tenant, key));
  await done.exec();
}
