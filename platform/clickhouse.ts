// ClickHouse client factory and literal escaping. ClickHouse 18.16 (Debian) has no query parameters, so every
// value interpolated into SQL goes through sqlString().
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import type { Config } from '../config/config.ts';

export type { ClickHouseClient };

/** A client bound to `database` (the configured one by default; null for the server default, to create it). */
export function createClickHouse(
  config: Config,
  database: string | null = config.clickhouse.database,
): ClickHouseClient {
  return createClient({
    url: config.clickhouse.url,
    username: config.clickhouse.user,
    password: config.clickhouse.password,
    ...(database === null ? {} : { database }),
    // 18.16 silently truncates a streamed result on a mid-query error unless the server buffers the whole answer.
    clickhouse_settings: { wait_end_of_query: 1 },
    request_timeout: 60_000,
    // Drop idle sockets well before the server's keep-alive timeout (3 s by default on 18.16), even when the event
    // loop was busy: reusing one the server already closed fails the insert with EPIPE.
    keep_alive: { enabled: true, idle_socket_ttl: 1500, eagerly_destroy_stale_sockets: true },
    // Failures surface as rejected promises that our adapters log with context; the client's own log is redundant.
    log: { level: ClickHouseLogLevel.OFF },
  });
}

/** A ClickHouse string literal: quotes and backslashes escaped, control characters as escapes. */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\t/g, '\\t').replace(/\0/g, '\\0')}'`;
}

/** An identifier we control (database/table); rejects anything else rather than quoting it. */
export function sqlIdentifier(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return name;
}

export async function ensureDatabase(config: Config): Promise<void> {
  const admin = createClickHouse(config, null);
  try {
    await admin.command({ query: `CREATE DATABASE IF NOT EXISTS ${sqlIdentifier(config.clickhouse.database)}` });
  } finally {
    await admin.close();
  }
}

/**
 * Conditions that split a FINAL read of a table partitioned by toYYYYMM(ts) into groups of whole partitions with at
 * most `maxParts` active parts each. FINAL merges every part it reads at once: ClickHouse 18.16 ran out of per-query
 * memory (3.7 GiB) at about 1,300 parts, which a years-long backfill into monthly partitions reaches. A replaced row
 * and its replacement share a partition (same ts), so per-group FINAL deduplicates exactly like one FINAL over all.
 * One group (no split) when the table is small or merged; `['1']` when it has no parts yet.
 */
export async function finalReadScopes(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  maxParts = 300,
): Promise<string[]> {
  const rs = await clickhouse.query({
    query: `SELECT partition, count() AS parts FROM system.parts WHERE database = ${sqlString(database)} AND table = ${sqlString(table)} AND active GROUP BY partition ORDER BY partition`,
    format: 'JSONEachRow',
  });
  const partitions = (await rs.json<{ partition: string; parts: string | number }>()).map((p) => ({
    id: p.partition.replace(/'/g, ''),
    parts: Number(p.parts),
  }));
  const total = partitions.reduce((s, p) => s + p.parts, 0);
  if (total <= maxParts) return ['1'];
  const groups: string[][] = [];
  let size = Infinity;
  for (const p of partitions) {
    if (!/^\d{6}$/.test(p.id))
      throw new Error(`${database}.${table}: partition ${JSON.stringify(p.id)} is not a toYYYYMM(ts) month`);
    if (size + p.parts > maxParts) {
      groups.push([]);
      size = 0;
    }
    groups[groups.length - 1]!.push(p.id);
    size += p.parts;
  }
  return groups.map((ids) => `toYYYYMM(ts) IN (${ids.join(', ')})`);
}

/**
 * The rows of a FINAL read of any size: runs `query(scope)` once per group of finalReadScopes and streams each
 * result's JSONEachRow rows in turn. A key spanning several partitions (a user's month-by-month counts) comes back
 * once per group, so aggregates over it must be merged by the caller (sums add up).
 */
export async function* finalReadRows<T>(
  clickhouse: ClickHouseClient,
  database: string,
  table: string,
  query: (scope: string) => string,
): AsyncGenerator<T> {
  for (const scope of await finalReadScopes(clickhouse, database, table)) {
    const rs = await clickhouse.query({ query: query(scope), format: 'JSONEachRow' });
    for await (const chunk of rs.stream()) for (const row of chunk) yield row.json<T>();
  }
}
