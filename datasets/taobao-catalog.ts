// The Taobao catalogue, derived from the UserBehavior log itself (the data set publishes no item table): each item with
// its category and its first event time, when it evidently was in the catalogue already. Lines the event source
// rejects (the truncated last one) are skipped and counted here too.
import { validateCatalogItem, type CatalogItem } from '../core/catalog.ts';
import type { InteractionEvent } from '../core/events.ts';
import { readTaobaoLog } from './taobao.ts';

interface Seen {
  tenant: string;
  firstMs: number;
  category: string | undefined;
}

/** Accumulates items from accepted events; pure. The category is the one of the item's latest event. */
export class TaobaoCatalog {
  private readonly seen = new Map<string, Seen>();

  add(event: InteractionEvent): void {
    const key = `${event.tenant}\u0000${event.itemId}`;
    const s = this.seen.get(key);
    const category = event.context.category;
    if (!s) {
      this.seen.set(key, { tenant: event.tenant, firstMs: event.timestamp, category });
      return;
    }
    if (event.timestamp < s.firstMs) s.firstMs = event.timestamp;
    if (category !== undefined) s.category = category;
  }

  get size(): number {
    return this.seen.size;
  }

  /** The catalogue records, in first-seen order; an item rejected by the catalogue rules is reported, not returned. */
  items(updatedAtMs: number): { items: CatalogItem[]; rejected: { itemId: string; reason: string }[] } {
    const items: CatalogItem[] = [];
    const rejected: { itemId: string; reason: string }[] = [];
    for (const [key, s] of this.seen) {
      const itemId = key.slice(key.indexOf('\u0000') + 1);
      const candidate: CatalogItem = {
        tenant: s.tenant,
        itemId,
        attributes: s.category === undefined ? {} : { category: [s.category] },
        numeric: {},
        createdAt: s.firstMs,
        updatedAt: updatedAtMs,
        deleted: false,
      };
      const checked = validateCatalogItem(candidate, updatedAtMs);
      if (checked.ok) items.push(checked.value);
      else rejected.push({ itemId, reason: checked.error });
    }
    return { items, rejected };
  }
}

export interface TaobaoCatalogRead {
  items: CatalogItem[];
  /** Lines read (up to the limit), and those the event source rejected (not used). */
  linesRead: number;
  rejectedLines: { line: number; reason: string }[];
  rejectedItems: { itemId: string; reason: string }[];
}

/** Derives the catalogue of a UserBehavior log, optionally from its first `limit` lines only. */
export async function readTaobaoCatalog(
  path: string,
  tenant: string,
  updatedAtMs: number,
  limit?: number,
): Promise<TaobaoCatalogRead> {
  const catalog = new TaobaoCatalog();
  const rejectedLines: { line: number; reason: string }[] = [];
  let linesRead = 0;
  for await (const parsed of readTaobaoLog(path, tenant)) {
    if (limit !== undefined && linesRead >= limit) break;
    linesRead++;
    if (parsed.ok) catalog.add(parsed.event);
    else rejectedLines.push({ line: parsed.line, reason: parsed.reason });
  }
  const { items, rejected } = catalog.items(updatedAtMs);
  return { items, linesRead, rejectedLines, rejectedItems: rejected };
}
