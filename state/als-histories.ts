// The interaction histories streaming ALS fold-in re-solves from: per user, item -> summed event weight, and per item,
// user -> summed event weight, each with a TTL. Events are added at most once (a per-event marker, SET NX with a TTL,
// in the same Lua call: state/lua/apply-als-history.lua), so a re-delivered batch does not add twice. Keys:
// alsHistoryKey, alsItemHistoryKey and alsEventMarkerKey in state/keys.ts.
import type { Redis } from '../platform/redis.ts';
import { alsHistoryKey, alsItemHistoryKey, tenantKeyPrefix } from './keys.ts';
import { luaScript } from './lua-scripts.ts';

const APPLY_HISTORY = luaScript('apply-als-history');

/** One event's contribution to a user's and an item's history. */
export interface HistoryEvent {
  /** Its marker's id: an event id is added once. */
  eventId: string;
  /** The user whose history gets the item. */
  userId: string;
  /** The item whose history gets the user. */
  itemId: string;
  /** The event type's weight. */
  weight: number;
}

/** Whose history: a user's (items it interacted with) or an item's (users who interacted with it). */
export type HistorySide = 'user' | 'item';

const historyKey = (side: HistorySide, tenant: string, id: string) =>
  side === 'user' ? alsHistoryKey(tenant, id) : alsItemHistoryKey(tenant, id);

/** Adds the events not added before to the histories, atomically; returns the users and items whose history changed. */
export async function applyAlsHistories(
  redis: Redis,
  tenant: string,
  events: readonly HistoryEvent[],
  historyTtlS: number,
  dedupeTtlS: number,
): Promise<{ users: string[]; items: string[] }> {
  const args: (string | number)[] = [tenantKeyPrefix(tenant), historyTtlS, dedupeTtlS];
  for (const e of events) args.push(e.eventId, e.userId, e.itemId, e.weight);
  // the one key names the tenant's slot (the script derives every key from the prefix)
  const [users, items] = (await redis.eval(APPLY_HISTORY, 1, alsHistoryKey(tenant, '_'), ...args)) as [
    string[],
    string[],
  ];
  return { users, items };
}

/** The histories of users or items (same order; an empty record where none), in one round trip. */
export async function readAlsHistories(
  redis: Redis,
  tenant: string,
  side: HistorySide,
  ids: readonly string[],
): Promise<Record<string, string>[]> {
  const pipe = redis.pipeline();
  for (const id of ids) pipe.hgetall(historyKey(side, tenant, id));
  const results = (await pipe.exec()) ?? [];
  return ids.map((_, j) => {
    const [err, raw] = results[j] ?? [null, {}];
    if (err) throw err;
    return raw as Record<string, string>;
  });
}

/** Removes entries from histories (id -> the entries to drop), in one round trip; nothing when none. */
export async function trimAlsHistories(
  redis: Redis,
  tenant: string,
  side: HistorySide,
  dropped: ReadonlyMap<string, readonly string[]>,
): Promise<void> {
  const trim = redis.pipeline();
  for (const [id, entries] of dropped) if (entries.length > 0) trim.hdel(historyKey(side, tenant, id), ...entries);
  if (trim.length > 0) await trim.exec();
}
