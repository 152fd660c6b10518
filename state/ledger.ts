// The ledger: every accepted event, append-only, in ClickHouse (written by processors/ledger-writer.ts). The table is a
// ReplacingMergeTree whose sorting key ends in event_id, so a batch delivered twice (crash before commit, replay)
// collapses to one row per event: every read here uses FINAL (split by finalReadRows/finalReadScopes when the table has
// many parts), so counts and sums are exact.
import type { EventType, InteractionEvent } from '../core/events.ts';
import type { UserOutcome } from '../core/experiments/report.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import { finalReadRows, finalReadScopes, sqlIdentifier, sqlString } from '../platform/clickhouse.ts';
import type { ConsumedRecord } from '../streams/consumer-runner.ts';

/** DDL accepted by both ClickHouse 18.16 and current releases (no DateTime64, codecs, TTL or Map). */
export function ledgerTableDdl(database: string, table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${sqlIdentifier(database)}.${sqlIdentifier(table)} (
  event_id String,
  tenant String,
  event_type Enum8('impression' = 1, 'click' = 2, 'engagement' = 3, 'conversion' = 4),
  user_id String,
  item_id String,
  ts DateTime('UTC'),
  ts_ms UInt64,
  recommendation_id Nullable(String),
  feed_id Nullable(String),
  position Nullable(Int32),
  action Nullable(String),
  value Nullable(Float64),
  context_keys Array(String),
  context_values Array(String),
  schema_id UInt32,
  kafka_topic String,
  kafka_partition UInt32,
  kafka_offset UInt64,
  ingested_at DateTime('UTC')
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, toDate(ts), event_id)`;
}

export interface LedgerRow {
  event_id: string;
  tenant: string;
  event_type: InteractionEvent['type'];
  user_id: string;
  item_id: string;
  ts: number;
  ts_ms: number;
  recommendation_id: string | null;
  feed_id: string | null;
  position: number | null;
  action: string | null;
  value: number | null;
  context_keys: string[];
  context_values: string[];
  schema_id: number;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: string;
  ingested_at: number;
}

/** Maps one consumed event to its ledger row. Pure. */
export function toLedgerRow(record: ConsumedRecord<InteractionEvent>, ingestedAtMs: number): LedgerRow {
  const e = record.value;
  const keys = Object.keys(e.context).sort();
  return {
    event_id: e.eventId,
    tenant: e.tenant,
    event_type: e.type,
    user_id: e.userId,
    item_id: e.itemId,
    ts: Math.floor(e.timestamp / 1000),
    ts_ms: e.timestamp,
    recommendation_id: e.recommendationId,
    feed_id: e.type === 'impression' ? e.feedId : null,
    position: e.type === 'impression' ? e.position : null,
    action: e.type === 'engagement' ? e.action : null,
    value: e.type === 'conversion' ? e.value : null,
    context_keys: keys,
    context_values: keys.map((k) => e.context[k] ?? ''),
    schema_id: record.schemaId ?? 0,
    kafka_topic: record.topic,
    kafka_partition: record.partition,
    kafka_offset: record.offset,
    ingested_at: Math.floor(ingestedAtMs / 1000),
  };
}

/** Creates the table unless it exists. */
export async function ensureLedgerTable(clickhouse: ClickHouseClient, database: string, table: string): Promise<void> {
  await clickhouse.command({ query: ledgerTableDdl(database, table) });
}

/** Appends rows (JSONEachRow). */
export async function insertLedgerRows(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  rows: LedgerRow[],
): Promise<void> {
  await clickhouse.insert({
    table: `${sqlIdentifier(database)}.${sqlIdentifier(table)}`,
    values: rows,
    format: 'JSONEachRow',
  });
}

/** A tenant's part of the ledger, optionally limited to an event-time range (epoch ms): what batch jobs read. */
export interface LedgerSlice {
  tenant: string;
  sinceMs?: number;
  untilMs?: number;
}

/**
 * `FROM <db>.<table> FINAL WHERE …` selecting a slice, replayed duplicates collapsed; `scope` limits it to a group of
 * partitions (finalReadScopes), for reads that would otherwise FINAL-merge too many parts at once.
 */
export function ledgerSliceFrom(database: string, table: string, slice: LedgerSlice, scope = '1'): string {
  const conditions = [`tenant = ${sqlString(slice.tenant)}`];
  if (scope !== '1') conditions.push(scope);
  if (slice.sinceMs !== undefined) conditions.push(`ts_ms >= ${Math.floor(slice.sinceMs)}`);
  if (slice.untilMs !== undefined) conditions.push(`ts_ms < ${Math.floor(slice.untilMs)}`);
  return `FROM ${sqlIdentifier(database)}.${sqlIdentifier(table)} FINAL WHERE ${conditions.join(' AND ')}`;
}

/** Distinct events in the ledger, optionally for one tenant (FINAL collapses replayed duplicates). */
export async function countLedgerRows(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  tenant?: string,
): Promise<number> {
  let n = 0;
  const rows = finalReadRows<{ n: string | number }>(clickhouse, database, table, (scope) => {
    const where = [
      ...(tenant === undefined ? [] : [`tenant = ${sqlString(tenant)}`]),
      ...(scope === '1' ? [] : [scope]),
    ];
    return `SELECT count() AS n FROM ${sqlIdentifier(database)}.${sqlIdentifier(table)} FINAL${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}`;
  });
  for await (const r of rows) n += Number(r.n);
  return n;
}

/**
 * Per-user outcomes of a ledger slice for experiment reports: impressions, and the clicks, conversions and revenue
 * attributed to a feed (events carrying a recommendation id).
 */
export async function readUserOutcomes(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  slice: LedgerSlice,
): Promise<UserOutcome[]> {
  const byUser = new Map<string, UserOutcome>();
  const rows = finalReadRows<{
    user_id: string;
    impressions: string | number;
    clicks: string | number;
    conversions: string | number;
    revenue: string | number;
  }>(
    clickhouse,
    database,
    table,
    (scope) => `SELECT user_id,
  countIf(event_type = 'impression') AS impressions,
  countIf(event_type = 'click' AND isNotNull(recommendation_id)) AS clicks,
  countIf(event_type = 'conversion' AND isNotNull(recommendation_id)) AS conversions,
  sumIf(ifNull(value, 0), event_type = 'conversion' AND isNotNull(recommendation_id)) AS revenue
${ledgerSliceFrom(database, table, slice, scope)}
GROUP BY user_id`,
  );
  for await (const r of rows) {
    const o = byUser.get(r.user_id) ?? { userId: r.user_id, impressions: 0, clicks: 0, conversions: 0, revenue: 0 };
    o.impressions += Number(r.impressions);
    o.clicks += Number(r.clicks);
    o.conversions += Number(r.conversions);
    o.revenue += Number(r.revenue);
    byUser.set(r.user_id, o);
  }
  return [...byUser.values()];
}

/** A ledger slice aggregated per (user, item) for ALS: ids in first-seen order and the summed weights as triples. */
export interface InteractionMatrix {
  users: string[];
  items: string[];
  rows: Int32Array;
  cols: Int32Array;
  values: Float64Array;
}

/** The slice's interactions summed per (user, item) with the event-type weights (pairs summing to 0 left out). */
export async function readInteractionMatrix(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  slice: LedgerSlice,
  weights: Record<EventType, number>,
): Promise<InteractionMatrix> {
  const w = weights;
  const weight = `multiIf(event_type = 'impression', ${w.impression}, event_type = 'click', ${w.click}, event_type = 'engagement', ${w.engagement}, ${w.conversion})`;
  const userIndex = new Map<string, number>();
  const itemIndex = new Map<string, number>();
  // (user, item) -> position in the columns: a pair may appear in several partition groups, its weights add up
  const pairAt = new Map<string, number>();
  const rows: number[] = [];
  const cols: number[] = [];
  const values: number[] = [];
  const scopes = await finalReadScopes(clickhouse, database, table);
  for (const scope of scopes) {
    const rs = await clickhouse.query({
      query: `SELECT user_id, item_id, sum(${weight}) AS v ${ledgerSliceFrom(database, table, slice, scope)}
            GROUP BY user_id, item_id HAVING v != 0`,
      format: 'JSONEachRow',
    });
    for await (const chunk of rs.stream()) {
      for (const row of chunk) {
        const {
          user_id: user,
          item_id: item,
          v,
        } = row.json<{ user_id: string; item_id: string; v: string | number }>();
        let u = userIndex.get(user);
        if (u === undefined) userIndex.set(user, (u = userIndex.size));
        let i = itemIndex.get(item);
        if (i === undefined) itemIndex.set(item, (i = itemIndex.size));
        if (scopes.length > 1) {
          const key = `${u}:${i}`;
          const at = pairAt.get(key);
          if (at !== undefined) {
            values[at]! += Number(v);
            continue;
          }
          pairAt.set(key, values.length);
        }
        rows.push(u);
        cols.push(i);
        values.push(Number(v));
      }
    }
  }
  return {
    users: [...userIndex.keys()],
    items: [...itemIndex.keys()],
    rows: Int32Array.from(rows),
    cols: Int32Array.from(cols),
    values: Float64Array.from(values),
  };
}

/** Items of the slice with their interaction counts (impressions are exposure, not interest). */
export async function readItemInteractionCounts(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  slice: LedgerSlice,
): Promise<Map<string, number>> {
  const items = new Map<string, number>();
  const rows = finalReadRows<{ item_id: string; n: string | number }>(
    clickhouse,
    database,
    table,
    (scope) =>
      `SELECT item_id, countIf(event_type != 'impression') AS n ${ledgerSliceFrom(database, table, slice, scope)} GROUP BY item_id`,
  );
  for await (const r of rows) items.set(r.item_id, (items.get(r.item_id) ?? 0) + Number(r.n));
  return items;
}

/**
 * The tenant's distinct events whose id is `<source>:<line>` with line in 1..lastLine: what a replay of the first
 * lastLine lines of a file wrote (the demo's check), not counting replays of other line ranges or files.
 */
export async function countReplayedLedgerRows(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  tenant: string,
  source: string,
  lastLine: number,
): Promise<number> {
  const like = sqlString(`${source.replace(/[\\%_]/g, (c) => `\\${c}`)}:%`);
  let n = 0;
  const rows = finalReadRows<{ n: string }>(
    clickhouse,
    database,
    table,
    (scope) => `SELECT count() AS n FROM ${sqlIdentifier(database)}.${sqlIdentifier(table)} FINAL
              WHERE tenant = ${sqlString(tenant)} AND event_id LIKE ${like} AND ${scope}
                AND toUInt64OrZero(replaceRegexpOne(event_id, '^.*:', '')) BETWEEN 1 AND ${lastLine}`,
  );
  for await (const r of rows) n += Number(r.n);
  return n;
}
