// Redis side of the item catalogue, written by the catalogue processor and read by the reader (and retcon): the latest
// record per item (deleted items stay, flagged, so a late re-delivery of an older record cannot resurrect them), the
// fresh-items rail (live items by createdAt, bounded to the newest FRESH_MAX_ITEMS) and the count of items new since
// the tenant's last index build (the retcon trigger); keys in state/keys.ts. A record is applied only when its
// updatedAt is newer than the stored one, atomically in Lua (state/lua/apply-catalog-item.lua), so re-delivery and
// out-of-order replays converge on the latest record. The ClickHouse side is state/catalog-table.ts.
import type { CatalogItem } from '../core/catalog.ts';
import type { ScoredItem } from '../core/funnel/filters.ts';
import type { Redis } from '../platform/redis.ts';
import { scoredPairs } from './features.ts';
import { ITEM_UPDATES_CHANNEL, catalogItemsKey, freshKey, newItemsKey } from './keys.ts';
import { luaScript } from './lua-scripts.ts';

export const FRESH_MAX_ITEMS = 10_000;

export type CatalogApplyOutcome = 'created' | 'updated' | 'deleted' | 'stale';

const APPLY = luaScript('apply-catalog-item');

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

/** How many records (live and deleted) the tenant's catalogue holds. */
export function catalogSize(redis: Redis, tenant: string): Promise<number> {
  return redis.hlen(catalogItemsKey(tenant));
}

/** The item's score (createdAt) in the fresh-items rail, or null when it is not on it. */
export function freshScore(redis: Redis, tenant: string, itemId: string): Promise<string | null> {
  return redis.zscore(freshKey(tenant), itemId);
}

/** Published on ITEM_UPDATES_CHANNEL when items of a tenant were deleted: readers drop them from live indexes. */
export interface ItemDeletionAnnouncement {
  tenant: string;
  deleted: string[];
}

/** Announces deleted items, per tenant, in one round trip. */
export async function announceItemDeletions(redis: Redis, deleted: ReadonlyMap<string, string[]>): Promise<void> {
  if (deleted.size === 0) return;
  const pipe = redis.pipeline();
  for (const [tenant, items] of deleted)
    pipe.publish(ITEM_UPDATES_CHANNEL, JSON.stringify({ tenant, deleted: items } satisfies ItemDeletionAnnouncement));
  for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
}
