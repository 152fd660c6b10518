// FINAL reads of a years-long ledger: a backfill spread over hundreds of monthly partitions leaves well over a thousand
// parts, more than one FINAL query can merge within ClickHouse 18.16's per-query memory. Reads go by groups of whole
// partitions instead; this checks they cover every partition once and deduplicate exactly like one FINAL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDatabase, createClickHouse, finalReadScopes, type ClickHouseClient } from '../../platform/clickhouse.ts';
import { countLedgerRows, ledgerTableDdl, readUserOutcomes } from '../../state/ledger.ts';
import { readInteractions } from '../../jobs/als-training.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { isolatedConfig } from '../support/harness.ts';

const config = isolatedConfig('final');
const { database } = config.clickhouse;
const table = config.ledger.table;
let clickhouse: ClickHouseClient;
// two years of months, each batch touching all of them: 16 x 24 = 384 parts, past the 300 a single FINAL read may take
const T0 = Date.UTC(2016, 0, 1);
const SPAN = 2 * 365 * 86_400_000;
const BATCHES = 16;
const PER_BATCH = 1000;

const row = (id: string, ts: number, user: string, item: string, type: 'click' | 'impression' = 'click') => ({
  event_id: id,
  tenant: 't',
  event_type: type,
  user_id: user,
  item_id: item,
  ts: Math.floor(ts / 1000),
  ts_ms: ts,
  recommendation_id: type === 'impression' ? 'r' : null,
  feed_id: null,
  position: type === 'impression' ? 0 : null,
  action: null,
  value: null,
  context_keys: [],
  context_values: [],
  schema_id: 1,
  kafka_topic: 'x',
  kafka_partition: 0,
  kafka_offset: '0',
  ingested_at: Math.floor(ts / 1000),
});

beforeAll(async () => {
  await ensureDatabase(config);
  clickhouse = createClickHouse(config);
  await clickhouse.command({ query: ledgerTableDdl(database, table) });
  // background merges would shrink the part count at their own pace; the test needs the parts a backfill leaves
  await clickhouse.command({ query: `SYSTEM STOP MERGES ${database}.${table}` });
  const random = seededRandom(7);
  // one new part per month per batch, as the consumer batches of a backfill make
  for (let b = 0; b < BATCHES; b++) {
    const values = Array.from({ length: PER_BATCH }, (_, i) =>
      row(
        `e${b}-${i}`,
        T0 + Math.floor(random() * SPAN),
        `u${i % 50}`,
        `i${Math.floor(random() * 300)}`,
        i % 10 === 0 ? 'impression' : 'click',
      ),
    );
    await clickhouse.insert({ table: `${database}.${table}`, values, format: 'JSONEachRow' });
  }
  // a replayed batch: the same events again (same ids, same times), which FINAL must collapse
  const replay = seededRandom(7);
  const again = Array.from({ length: PER_BATCH }, (_, i) =>
    row(
      `e0-${i}`,
      T0 + Math.floor(replay() * SPAN),
      `u${i % 50}`,
      `i${Math.floor(replay() * 300)}`,
      i % 10 === 0 ? 'impression' : 'click',
    ),
  );
  await clickhouse.insert({ table: `${database}.${table}`, values: again, format: 'JSONEachRow' });
}, 120_000);

afterAll(async () => {
  await clickhouse?.close();
});

describe('FINAL reads by partition groups', () => {
  it('splits into groups of whole partitions that cover every partition once', async () => {
    const rs = await clickhouse.query({
      query: `SELECT count() AS parts, uniqExact(partition) AS partitions FROM system.parts WHERE database = '${database}' AND table = '${table}' AND active`,
      format: 'JSONEachRow',
    });
    const [row] = await rs.json<{ parts: string; partitions: string }>();
    const { parts, partitions } = row!;
    expect(Number(parts)).toBeGreaterThan(300);
    const scopes = await finalReadScopes(clickhouse, database, table);
    expect(scopes.length).toBeGreaterThan(1);
    expect(await finalReadScopes(clickhouse, database, table, 10_000)).toEqual(['1']);
    const months = scopes.flatMap((s) => s.replace(/^toYYYYMM\(ts\) IN \(|\)$/g, '').split(', '));
    expect(new Set(months).size).toBe(months.length);
    expect(months.length).toBe(Number(partitions));
  });

  it('counts, aggregates and trains from the same deduplicated rows as one FINAL would', async () => {
    const distinct = BATCHES * PER_BATCH;
    expect(await countLedgerRows(clickhouse, database, table, 't')).toBe(distinct);
    const outcomes = await readUserOutcomes(clickhouse, database, table, { tenant: 't' });
    expect(outcomes.reduce((s, o) => s + o.impressions, 0)).toBe(distinct / 10);
    const m = await readInteractions(clickhouse, config, { tenant: 't' });
    // every (user, item) pair once, with clicks summed across partition groups: clicks weigh config.als.weights.click
    expect(new Set(Array.from(m.rows, (u, k) => `${u}:${m.cols[k]}`)).size).toBe(m.rows.length);
    expect(m.values.reduce((s, v) => s + v, 0)).toBeCloseTo(((distinct * 9) / 10) * config.als.weights.click, 6);
  });
});
