// The catalogue's ClickHouse table: every version of every item record (ReplacingMergeTree(updated_at_ms) collapses
// them to the latest per item), written by the catalogue processor. The Redis side is state/catalog.ts.
import type { CatalogItem } from '../core/catalog.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import { sqlIdentifier, sqlString } from '../platform/clickhouse.ts';
import type { ConsumedRecord } from '../streams/consumer-runner.ts';

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

/** Creates the table unless it exists. */
export async function ensureCatalogTable(clickhouse: ClickHouseClient, database: string, table: string): Promise<void> {
  await clickhouse.command({ query: catalogTableDdl(database, table) });
}

/** Appends rows (JSONEachRow). */
export async function insertCatalogRows(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  rows: CatalogRow[],
): Promise<void> {
  await clickhouse.insert({
    table: `${sqlIdentifier(database)}.${sqlIdentifier(table)}`,
    values: rows,
    format: 'JSONEachRow',
  });
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
