// Removing a ClickHouse table state/ owns (the ledger, the catalogue table, the ranker examples): what deprovisioning a
// run under its own names and benchmarks' throw-away tables need. Each table's DDL and reads live with it
// (state/ledger.ts, state/catalog-table.ts, state/ranker-examples.ts).
import { sqlIdentifier, type ClickHouseClient } from '../platform/clickhouse.ts';

/** Drops the table if it exists. */
export async function dropTable(clickhouse: ClickHouseClient, database: string, table: string): Promise<void> {
  await clickhouse.command({ query: `DROP TABLE IF EXISTS ${sqlIdentifier(database)}.${sqlIdentifier(table)}` });
}
