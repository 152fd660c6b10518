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
import { sqlIdentifier, sqlString } from '../platform/clickhouse.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { ITEM_UPDATES_CHANNEL } from '../state/als-models.ts';
import {
  applyCatalogItems,
  FRESH_MAX_ITEMS,
  newItemCount,
  readCatalogItems,
  type CatalogApplyOutcome,
} from '../state/catalog.ts';

/** Published on ITEM_UPDATES_CHANNEL when items of a tenant were deleted: readers drop them from live indexes. */
export interface ItemDeletionAnnouncement {
  tenant: string;
  deleted: string[];
}

/**
 * DDL accepted by ClickHouse 18.16 and current releases (no DateTime64, Map, codecs or TTL). No partition key: a
 * ReplacingMergeTree only collapses rows inside one partition, and every version of an item must meet the others.
 * A multi-valued attribute is stored as parallel entries, its key repeated once per value (genres Comedy and Drama:
 * keys [genres, genres], values [Comedy, Drama]), so `has(arrayFilter((v, k) -> k = 'genres', attribute_values,
 * attribute_keys), 'Comedy')` asks for one value; an attribute with no values has no entry.
 */
export function catalogTableDdl(database: string, table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${sqlIdentifier(database)}.${sqlIdentifier(table)} (
  tenant String,
  item_id String,
  attribute_keys Array(String),
  attribute_values Array(String),
  numeric_keys Array(String),
  numeric_values Array(Float64),
  created_at_ms UInt64,
  updated_at_ms UInt64,
  deleted UInt8,
  schema_id UInt32,
  kafka_topic String,
  kafka_partition UInt32,
  kafka_offset UInt64,
  ingested_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(updated_at_ms)
ORDER BY (tenant, item_id)`;
}

export interface CatalogRow {
  tenant: string;
  item_id: string;
  attribute_keys: string[];
  attribute_values: string[];
  numeric_keys: string[];
  numeric_values: number[];
  created_at_ms: number;
  updated_at_ms: number;
  deleted: 0 | 1;
  schema_id: number;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  ingested_at: number;
}

/** Maps one consumed item record to its table row (keys sorted, so equal records give equal rows). Pure. */
export function toCatalogRow(record: ConsumedRecord<CatalogItem>, ingestedAtMs: number): CatalogRow {
  const it = record.value;
  const attributeKeys: string[] = [];
  const attributeValues: string[] = [];
  for (const key of Object.keys(it.attributes).sort()) {
    for (const v of it.attributes[key] ?? []) {
      attributeKeys.push(key);
      attributeValues.push(v);
    }
  }
  const numericKeys = Object.keys(it.numeric).sort();
  return {
    tenant: it.tenant,
    item_id: it.itemId,
    attribute_keys: attributeKeys,
    attribute_values: attributeValues,
    numeric_keys: numericKeys,
    numeric_values: numericKeys.map((k) => it.numeric[k] ?? 0),
    created_at_ms: it.createdAt,
    updated_at_ms: it.updatedAt,
    deleted: it.deleted ? 1 : 0,
    schema_id: record.schemaId ?? 0,
    kafka_topic: record.topic,
    kafka_partition: record.partition,
    kafka_offset: record.offset,
    ingested_at: Math.floor(ingestedAtMs / 1000),
  };
}

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
    await this.clickhouse.command({ query: catalogTableDdl(this.database, this.table) });
  }

  async process(records: ConsumedRecord<CatalogItem>[]): Promise<void> {
    const now = Date.now();
    await this.clickhouse.insert({
      table: `${sqlIdentifier(this.database)}.${sqlIdentifier(this.table)}`,
      values: records.map((r) => toCatalogRow(r, now)),
      format: 'JSONEachRow',
    });
    const items = records.map((r) => r.value);
    const outcomes = await applyCatalogItems(this.redis, items, this.options.freshMaxItems ?? FRESH_MAX_ITEMS);
    const effects = planCatalogEffects(items, outcomes, await this.storedOfStale(items, outcomes));

    if (effects.deleted.size > 0) {
      const pipe = this.redis.pipeline();
      for (const [tenant, deleted] of effects.deleted)
        pipe.publish(ITEM_UPDATES_CHANNEL, JSON.stringify({ tenant, deleted } satisfies ItemDeletionAnnouncement));
      for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
    }
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

/** Distinct items in the catalogue table, optionally for one tenant (FINAL collapses versions); deleted ones included. */
export async function countCatalogRows(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  tenant?: string,
): Promise<number> {
  const where = tenant === undefined ? '' : ` WHERE tenant = ${sqlString(tenant)}`;
  const rs = await clickhouse.query({
    query: `SELECT count() AS n FROM ${sqlIdentifier(database)}.${sqlIdentifier(table)} FINAL${where}`,
    format: 'JSONEachRow',
  });
  const rows = await rs.json<{ n: string | number }>();
  return Number(rows[0]?.n ?? 0);
}
