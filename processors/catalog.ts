// The catalogue processor: item records from the items topic into a ClickHouse table (every version, collapsed to the
// latest per item by ReplacingMergeTree(updated_at_ms)) and into the Redis catalogue (latest version per item, fresh-items
// rail, new-item count). Then the side effects that follow from what changed: deletions announced to readers, live
// items handed to an optional hook (content vectors), and a retcon of the tenant's index once enough items are new.
//
// Delivery is at-least-once, so a batch may come again after its Redis apply (crash before the commit, a failing hook).
// Redis then answers 'stale' for every record; a stale record whose version equals the stored one is that re-delivery,
// and its effects (announcement, hook, trigger check) are repeated from the stored record rather than lost. Every
// effect is idempotent downstream: deleting twice, re-computing a vector, a retcon deduplicated per tenant.
import type { CatalogItem } from '../core/catalog.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import {
  announceItemDeletions,
  applyCatalogItems,
  FRESH_MAX_ITEMS,
  newItemCount,
  readCatalogItems,
  type CatalogApplyOutcome,
} from '../state/catalog.ts';
import { ensureCatalogTable, insertCatalogRows, toCatalogRow } from '../state/catalog-table.ts';

/** What a batch's Redis outcomes call for, per tenant. */
export interface CatalogEffects {
  /** Items whose latest state is deleted: announce them. */
  deleted: Map<string, string[]>;
  /** Items whose latest state is live and that changed (or were re-delivered): hand them to the hook. */
  applied: Map<string, CatalogItem[]>;
  /** Tenants that may have crossed the new-items trigger: read their count. */
  triggerCandidates: Set<string>;
}

const itemRef = (it: Pick<CatalogItem, 'tenant' | 'itemId'>) => `${it.tenant}\u0000${it.itemId}`;

/**
 * Plans the effects of a batch from its records, their outcomes (same order) and, for stale records, the stored
 * record. A stale record with the stored version is a re-delivery: its effects are planned again from the stored
 * record. The last state of each item in the batch wins (created then deleted: only the deletion). Pure.
 */
export function planCatalogEffects(
  items: readonly CatalogItem[],
  outcomes: readonly CatalogApplyOutcome[],
  stored: ReadonlyMap<string, CatalogItem | null>,
): CatalogEffects {
  const last = new Map<string, CatalogItem>();
  const triggerCandidates = new Set<string>();
  items.forEach((item, i) => {
    const outcome = outcomes[i];
    if (outcome === 'stale') {
      const current = stored.get(itemRef(item));
      if (!current || current.updatedAt !== item.updatedAt) return; // an older version: no effect
      last.set(itemRef(item), current);
      triggerCandidates.add(item.tenant); // the first delivery may have been a creation whose trigger check was lost
      return;
    }
    last.set(itemRef(item), item);
    if (outcome === 'created') triggerCandidates.add(item.tenant);
  });
  const deleted = new Map<string, string[]>();
  const applied = new Map<string, CatalogItem[]>();
  for (const item of last.values()) {
    if (item.deleted) push(deleted, item.tenant, item.itemId);
    else push(applied, item.tenant, item);
  }
  return { deleted, applied, triggerCandidates };
}

function push<T>(m: Map<string, T[]>, key: string, value: T): void {
  const list = m.get(key);
  if (list) list.push(value);
  else m.set(key, [value]);
}

export interface CatalogProcessorOptions {
  /** Enqueue a retcon of a tenant once this many items are new since its last index build (0: never). */
  newItemsTrigger: number;
  /** Queues a retcon of the tenant; must tolerate repeats (the queue deduplicates per tenant). */
  enqueueRetcon: (tenant: string) => Promise<void>;
  /** Called per tenant with its created/updated items after the Redis apply (not deleted, not older versions). */
  onApplied?: (tenant: string, items: CatalogItem[]) => Promise<void>;
  freshMaxItems?: number;
}

export class CatalogProcessor implements BatchProcessor<CatalogItem> {
  readonly name = 'catalog';

  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly database: string,
    private readonly table: string,
    private readonly redis: Redis,
    private readonly options: CatalogProcessorOptions,
  ) {}

  async ensureTable(): Promise<void> {
    await ensureCatalogTable(this.clickhouse, this.database, this.table);
  }

  async process(records: ConsumedRecord<CatalogItem>[]): Promise<void> {
    const now = Date.now();
    await insertCatalogRows(
      this.clickhouse,
      this.database,
      this.table,
      records.map((r) => toCatalogRow(r, now)),
    );
    const items = records.map((r) => r.value);
    const outcomes = await applyCatalogItems(this.redis, items, this.options.freshMaxItems ?? FRESH_MAX_ITEMS);
    const effects = planCatalogEffects(items, outcomes, await this.storedOfStale(items, outcomes));

    await announceItemDeletions(this.redis, effects.deleted);
    if (this.options.onApplied)
      for (const [tenant, applied] of effects.applied) await this.options.onApplied(tenant, applied);
    await this.checkTrigger(effects.triggerCandidates);
  }

  /** The stored records of items Redis answered 'stale' for, keyed like planCatalogEffects expects. */
  private async storedOfStale(
    items: readonly CatalogItem[],
    outcomes: readonly CatalogApplyOutcome[],
  ): Promise<Map<string, CatalogItem | null>> {
    const byTenant = new Map<string, string[]>();
    items.forEach((it, i) => {
      if (outcomes[i] === 'stale') push(byTenant, it.tenant, it.itemId);
    });
    const out = new Map<string, CatalogItem | null>();
    for (const [tenant, ids] of byTenant) {
      for (const [itemId, item] of await readCatalogItems(this.redis, tenant, [...new Set(ids)]))
        out.set(itemRef({ tenant, itemId }), item);
    }
    return out;
  }

  private async checkTrigger(tenants: Set<string>): Promise<void> {
    const trigger = this.options.newItemsTrigger;
    if (trigger <= 0) return;
    for (const tenant of tenants) {
      if ((await newItemCount(this.redis, tenant)) >= trigger) await this.options.enqueueRetcon(tenant);
    }
  }
}
