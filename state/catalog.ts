// Redis layout of the item catalogue, written by the catalogue processor and read by the reader (and retcon):
//   rs:{t}:items          hash  item id -> CatalogItem JSON (deleted items stay, flagged, so a late re-delivery of an
//                               older record cannot resurrect them)
//   rs:{t}:fresh          zset  live items by createdAt (the fresh-items rail), bounded to the newest FRESH_MAX_ITEMS
//   rs:{t}:catalog:new    count of items new since the tenant's last index build (the retcon trigger)
// A record is applied only when its updatedAt is newer than the stored one, atomically in Lua, so re-delivery and
// out-of-order replays converge on the latest record.
import type { CatalogItem } from '../core/catalog.ts';
import type { ScoredItem } from '../core/funnel/filters.ts';
import type { Redis } from '../platform/redis.ts';
import { scoredPairs } from './features.ts';

const prefix = (tenant: string) => `rs:{${tenant}}:`;
export const catalogItemsKey = (tenant: string) => `${prefix(tenant)}items`;
export const freshKey = (tenant: string) => `${prefix(tenant)}fresh`;
export const newItemsKey = (tenant: string) => `${prefix(tenant)}catalog:new`;
export const FRESH_MAX_ITEMS = 10_000;

export type CatalogApplyOutcome = 'created' | 'updated' | 'deleted' | 'stale';

// KEYS: items, fresh, new-count. ARGV: item id, updatedAt, createdAt, deleted (1/0), JSON, fresh bound.
const APPLY = `
local prev = redis.call('HGET', KEYS[1], ARGV[1])
local updated = tonumber(ARGV[2])
if prev then
  local old = cjson.decode(prev)
  if tonumber(old.updatedAt) >= updated then return 'stale' end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
if ARGV[4] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 'deleted'
end
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]), ARGV[1])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[6])
if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1) end
if prev and not cjson.decode(prev).deleted then return 'updated' end
redis.call('INCR', KEYS[3])
return 'created'
`;

/** Applies item records in order; returns each one's outcome. */
export async function applyCatalogItems(
  redis: Redis,
  items: readonly CatalogItem[],
  freshMaxItems = FRESH_MAX_ITEMS,
): Promise<CatalogApplyOutcome[]> {
  if (items.length === 0) return [];
  const pipe = redis.pipeline();
  for (const it of items) {
    pipe.eval(
      APPLY,
      3,
      catalogItemsKey(it.tenant),
      freshKey(it.tenant),
      newItemsKey(it.tenant),
      it.itemId,
      it.updatedAt,
      it.createdAt,
      it.deleted ? '1' : '0',
      JSON.stringify(it),
      freshMaxItems,
    );
  }
  const results = (await pipe.exec()) ?? [];
  return results.map(([err, outcome]) => {
    if (err) throw err;
    return outcome as CatalogApplyOutcome;
  });
}

/** Catalogue records of items (null where the catalogue does not know an item). */
export async function readCatalogItems(
  redis: Redis,
  tenant: string,
  itemIds: readonly string[],
): Promise<Map<string, CatalogItem | null>> {
  const out = new Map<string, CatalogItem | null>();
  if (itemIds.length === 0) return out;
  const values = await redis.hmget(catalogItemsKey(tenant), ...itemIds);
  itemIds.forEach((id, i) => out.set(id, values[i] ? (JSON.parse(values[i]!) as CatalogItem) : null));
  return out;
}

/** Every catalogue record of a tenant, in batches (retcon reads the whole catalogue). */
export async function* scanCatalog(redis: Redis, tenant: string, batch = 5_000): AsyncGenerator<CatalogItem[]> {
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(catalogItemsKey(tenant), cursor, 'COUNT', batch);
    cursor = next;
    const items: CatalogItem[] = [];
    for (let i = 1; i < flat.length; i += 2) items.push(JSON.parse(flat[i]!) as CatalogItem);
    if (items.length > 0) yield items;
  } while (cursor !== '0');
}

/** The newest live items created at or after `sinceMs`, newest first, score = createdAt. */
export async function readFreshItems(
  redis: Redis,
  tenant: string,
  count: number,
  sinceMs: number,
): Promise<ScoredItem[]> {
  return scoredPairs(
    await redis.zrevrangebyscore(freshKey(tenant), '+inf', String(sinceMs), 'WITHSCORES', 'LIMIT', 0, count),
  );
}

/** Items new since the last index build; retcon resets it when it starts reading. */
export async function takeNewItemCount(redis: Redis, tenant: string): Promise<number> {
  return Number((await redis.getdel(newItemsKey(tenant))) ?? 0);
}

export async function newItemCount(redis: Redis, tenant: string): Promise<number> {
  return Number((await redis.get(newItemsKey(tenant))) ?? 0);
}
