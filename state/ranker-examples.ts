// The ranker's training set in ClickHouse: one row per impression of one of our feeds' items, written by the ranker
// trainer when the impression's attribution window closes, with the ranking context the feed was served with and the
// label the window gave it (clicked / converted). The batch tree ranker trains from it; analysts can query it beside
// the ledger. A ReplacingMergeTree keyed by (tenant, recommendation, item): a batch re-processed after a crash rewrites
// the same rows, collapsed by FINAL.
import type { RankerExample } from '../core/models/ranker-training.ts';
import type { RankingContext } from '../core/funnel/ranking-features.ts';
import { finalReadRows, sqlIdentifier, sqlString, type ClickHouseClient } from '../platform/clickhouse.ts';

/** DDL accepted by both ClickHouse 18.16 and current releases. */
export function rankerExamplesDdl(database: string, table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${sqlIdentifier(database)}.${sqlIdentifier(table)} (
  tenant String,
  recommendation_id String,
  item_id String,
  user_id String,
  ts DateTime('UTC'),
  impression_ms UInt64,
  position Int32,
  context String,
  clicked UInt8,
  converted UInt8
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(ts)
ORDER BY (tenant, recommendation_id, item_id)`;
}

export interface LabelledImpression extends RankerExample {
  tenant: string;
  userId: string;
}

export class RankerExampleLog {
  constructor(
    private readonly clickhouse: ClickHouseClient,
    private readonly database: string,
    private readonly table: string,
  ) {}

  async ensureTable(): Promise<void> {
    await this.clickhouse.command({ query: rankerExamplesDdl(this.database, this.table) });
  }

  async append(rows: readonly LabelledImpression[]): Promise<void> {
    if (rows.length === 0) return;
    await this.clickhouse.insert({
      table: `${sqlIdentifier(this.database)}.${sqlIdentifier(this.table)}`,
      values: rows.map((r) => ({
        tenant: r.tenant,
        recommendation_id: r.recommendationId,
        item_id: r.itemId,
        user_id: r.userId,
        ts: Math.floor(r.impressionMs / 1000),
        impression_ms: r.impressionMs,
        position: r.position,
        context: JSON.stringify(r.context),
        clicked: r.clicked ? 1 : 0,
        converted: r.converted ? 1 : 0,
      })),
      format: 'JSONEachRow',
    });
  }

  /** The event time of the tenant's newest labelled impression, null without any. */
  async latest(tenant: string): Promise<number | null> {
    const rs = await this.clickhouse.query({
      query: `SELECT count() AS n, max(impression_ms) AS at FROM ${sqlIdentifier(this.database)}.${sqlIdentifier(this.table)} WHERE tenant = ${sqlString(tenant)}`,
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ n: string | number; at: string | number }>();
    return row && Number(row.n) > 0 ? Number(row.at) : null;
  }

  /** A tenant's labelled impressions in [sinceMs, untilMs) of event time, oldest first. */
  async read(tenant: string, sinceMs: number, untilMs = Number.MAX_SAFE_INTEGER): Promise<RankerExample[]> {
    const out: RankerExample[] = [];
    const rows = finalReadRows<{
      recommendation_id: string;
      item_id: string;
      impression_ms: string | number;
      position: number;
      context: string;
      clicked: number;
      converted: number;
    }>(
      this.clickhouse,
      this.database,
      this.table,
      (scope) => `SELECT recommendation_id, item_id, impression_ms, position, context, clicked, converted
FROM ${sqlIdentifier(this.database)}.${sqlIdentifier(this.table)} FINAL
WHERE tenant = ${sqlString(tenant)} AND impression_ms >= ${Math.max(0, Math.floor(sinceMs))} AND impression_ms < ${Math.floor(untilMs)} AND ${scope}
ORDER BY impression_ms, recommendation_id, position`,
    );
    for await (const r of rows) {
      out.push({
        recommendationId: r.recommendation_id,
        itemId: r.item_id,
        impressionMs: Number(r.impression_ms),
        position: Number(r.position),
        context: JSON.parse(r.context) as RankingContext,
        clicked: Number(r.clicked) === 1,
        converted: Number(r.converted) === 1,
      });
    }
    return out;
  }
}
