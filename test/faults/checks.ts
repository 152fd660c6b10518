// What the fault suite checks once the pipeline has caught up, each against an independent source of truth:
// - the ledger (ClickHouse) against the events the generator accepted: rows with FINAL, distinct ids, duplicates;
// - Redis against a recomputation from the ledger: the windowed counters of users, items, categories and tenants and
//   the ALS interaction histories (exact: each event is applied once, behind its per-event marker), the popularity
//   and trending scores (floating-point sums: relative tolerance), the per-event markers, the scaler's per-partition
//   offsets;
// - the dead-letter topic against the invalid messages injected: each one once, with its stage and reason.
// The comparisons are pure (unit-tested); the readers stream from ClickHouse and pipeline Redis in chunks.
import type { Admin, Kafka } from 'kafkajs';
import type { EventType } from '../../core/events.ts';
import { TYPE_CODE, WINDOWS, isExpiredField } from '../../core/features/session-features.ts';
import { sqlIdentifier, sqlString, type ClickHouseClient } from '../../platform/clickhouse.ts';
import type { Redis } from '../../platform/redis.ts';
import {
  alsHistoryKey,
  alsItemHistoryKey,
  categoryCountersKey,
  itemCountersKey,
  popularityKey,
  popularityMetaKey,
  scalerAccKey,
  tenantCountersKey,
  trendingKey,
  userCountersKey,
} from '../../state/keys.ts';
import { parseDeadLetter, type DeadLetter } from '../../streams/dead-letter.ts';
import { INVALID_KINDS, INVALID_KIND_NAMES, type InvalidKind } from './generator.ts';

const SAMPLES = 5;

// ------------------------------------------------------------------------------------------------ pure comparisons

export interface HashDiff {
  key: string;
  field: string;
  expected: number | null;
  actual: number | null;
}

/**
 * Differences between a recomputed hash and the stored one. A field the store lacks is fine when `mayBeMissing` says
 * so (counter buckets pruned once they left every window); any stored field must match exactly.
 */
export function compareHash(
  key: string,
  expected: ReadonlyMap<string, number>,
  actual: Readonly<Record<string, string>>,
  mayBeMissing: (field: string) => boolean = () => false,
): HashDiff[] {
  const diffs: HashDiff[] = [];
  for (const [field, n] of expected) {
    const raw = actual[field];
    if (raw === undefined) {
      if (!mayBeMissing(field)) diffs.push({ key, field, expected: n, actual: null });
    } else if (Number(raw) !== n) diffs.push({ key, field, expected: n, actual: Number(raw) });
  }
  for (const [field, raw] of Object.entries(actual))
    if (!expected.has(field)) diffs.push({ key, field, expected: null, actual: Number(raw) });
  return diffs;
}

/** |a - b| within `rel` of the larger magnitude. */
export function closeEnough(a: number, b: number, rel = 1e-9): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-300);
}

export interface KindReport {
  injected: number;
  /** Distinct injected messages found in the dead-letter topic. */
  found: number;
  /** Dead letters beyond the first for the same message (re-delivery of the ledger writer's batch after a crash). */
  duplicates: number;
  /** Found, but with another stage or a reason that does not match the kind's. */
  wrongReason: number;
  sampleReason: string | null;
}

export interface DlqReport {
  records: number;
  byKind: Record<InvalidKind, KindReport>;
  missing: number;
  missingSample: string[];
  /** Dead letters that are not injected messages (valid events dead-lettered: lost to the ledger). */
  unexpected: number;
  unexpectedSample: { stage: string; processor: string; reason: string; key: string | null }[];
  ok: boolean;
}

/** Matches dead letters to the injected messages by the message key they keep (base64 of `bad/<kind>/<n>`). */
export function classifyDeadLetters(
  letters: readonly DeadLetter[],
  injected: ReadonlyMap<string, InvalidKind>,
): DlqReport {
  const byKind = Object.fromEntries(
    INVALID_KIND_NAMES.map((k) => [k, { injected: 0, found: 0, duplicates: 0, wrongReason: 0, sampleReason: null }]),
  ) as Record<InvalidKind, KindReport>;
  for (const kind of injected.values()) byKind[kind].injected++;
  const seen = new Set<string>();
  const unexpectedSample: DlqReport['unexpectedSample'] = [];
  let unexpected = 0;
  for (const l of letters) {
    const key = l.source.key === null ? null : Buffer.from(l.source.key, 'base64').toString('utf8');
    const kind = key === null ? undefined : injected.get(key);
    if (key === null || kind === undefined) {
      unexpected++;
      if (unexpectedSample.length < SAMPLES)
        unexpectedSample.push({ stage: l.stage, processor: l.processor, reason: l.reason, key });
      continue;
    }
    const report = byKind[kind];
    if (seen.has(key)) {
      report.duplicates++;
      continue;
    }
    seen.add(key);
    report.found++;
    report.sampleReason ??= l.reason;
    const want = INVALID_KINDS[kind];
    if (l.stage !== want.stage || !want.reason.test(l.reason)) report.wrongReason++;
  }
  const missingKeys = [...injected.keys()].filter((k) => !seen.has(k));
  const ok = missingKeys.length === 0 && unexpected === 0 && Object.values(byKind).every((r) => r.wrongReason === 0);
  return {
    records: letters.length,
    byKind,
    missing: missingKeys.length,
    missingSample: missingKeys.slice(0, SAMPLES),
    unexpected,
    unexpectedSample,
    ok,
  };
}

// ------------------------------------------------------------------------------------------------ ledger

export interface LedgerReport {
  /** Accepted events (valid messages the producer sent). */
  accepted: number;
  /** count() FINAL: one row per event after replacement. */
  rowsFinal: number;
  /** count() without FINAL: re-delivered inserts not merged away yet are still separate rows. */
  rowsRaw: number;
  distinctEventIds: number;
  /** rowsRaw - distinct: physical duplicates (re-deliveries), which FINAL must collapse. */
  duplicateRowsRaw: number;
  /** rowsFinal - distinct: duplicates FINAL failed to collapse (must be 0). */
  duplicateRowsFinal: number;
  lost: number;
  lostSample: string[];
  /** Event ids in the ledger the producer never sent as valid. */
  unexpected: number;
  unexpectedSample: string[];
  perTenant: Record<string, { accepted: number; rowsFinal: number }>;
  ok: boolean;
}

const table = (db: string, t: string) => `${sqlIdentifier(db)}.${sqlIdentifier(t)}`;

async function queryRows<T>(ch: ClickHouseClient, query: string): Promise<T[]> {
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

/** Streams rows of a query, calling `each` per row (bounded memory for million-row results). */
async function streamRows<T>(
  ch: ClickHouseClient,
  query: string,
  each: (row: T) => void | Promise<void>,
): Promise<void> {
  const rs = await ch.query({ query, format: 'JSONEachRow' });
  for await (const chunk of rs.stream()) for (const row of chunk) await each(row.json<T>());
}

/**
 * Ledger against the accepted events. `acceptedIds` yields every accepted event id once (the generator re-run),
 * `acceptedPerTenant` their counts by tenant.
 */
export async function checkLedger(
  ch: ClickHouseClient,
  db: string,
  ledger: string,
  acceptedIds: () => Iterable<string>,
  acceptedPerTenant: ReadonlyMap<string, number>,
): Promise<LedgerReport> {
  const t = table(db, ledger);
  const [raw] = await queryRows<{ rows: string; ids: string }>(
    ch,
    `SELECT count() AS rows, uniqExact(event_id) AS ids FROM ${t}`,
  );
  const finals = await queryRows<{ tenant: string; rows: string }>(
    ch,
    `SELECT tenant, count() AS rows FROM ${t} FINAL GROUP BY tenant`,
  );
  const rowsRaw = Number(raw?.rows ?? 0);
  const distinct = Number(raw?.ids ?? 0);
  const rowsFinal = finals.reduce((s, r) => s + Number(r.rows), 0);
  const inLedger = new Set<string>();
  await streamRows<{ event_id: string }>(ch, `SELECT DISTINCT event_id FROM ${t}`, (r) => {
    inLedger.add(r.event_id);
  });
  let accepted = 0;
  let lost = 0;
  const lostSample: string[] = [];
  for (const id of acceptedIds()) {
    accepted++;
    if (inLedger.delete(id)) continue;
    lost++;
    if (lostSample.length < SAMPLES) lostSample.push(id);
  }
  const unexpectedSample = [...inLedger].slice(0, SAMPLES);
  const perTenant: LedgerReport['perTenant'] = {};
  for (const [tenant, n] of acceptedPerTenant) perTenant[tenant] = { accepted: n, rowsFinal: 0 };
  for (const r of finals) (perTenant[r.tenant] ??= { accepted: 0, rowsFinal: 0 }).rowsFinal = Number(r.rows);
  const report = {
    accepted,
    rowsFinal,
    rowsRaw,
    distinctEventIds: distinct,
    duplicateRowsRaw: rowsRaw - distinct,
    duplicateRowsFinal: rowsFinal - distinct,
    lost,
    lostSample,
    unexpected: inLedger.size,
    unexpectedSample,
    perTenant,
  };
  return { ...report, ok: rowsFinal === accepted && distinct === accepted && lost === 0 && inLedger.size === 0 };
}

// ------------------------------------------------------------------------------------------------ Redis vs ledger

const typeCodeSql = `multiIf(${(Object.entries(TYPE_CODE) as [EventType, string][]).map(([type, code]) => `event_type = ${sqlString(type)}, ${sqlString(code)}`).join(', ')}, '')`;

/** The counter fields an event increments (core/features/session-features.ts counterFields), as a ClickHouse array. */
const counterFieldsSql = `[${WINDOWS.map((w) => `concat(code, ':${w.granularity}:', toString(intDiv(ts_ms, ${w.bucketMs})))`).join(', ')}]`;

export type CounterScope = 'user' | 'item' | 'category' | 'tenant';
const SCOPES: Record<CounterScope, { column: string; key: (tenant: string, k: string) => string }> = {
  user: { column: 'user_id', key: userCountersKey },
  item: { column: 'item_id', key: itemCountersKey },
  category: { column: `context_values[indexOf(context_keys, 'category')]`, key: categoryCountersKey },
  tenant: { column: `''`, key: (t) => tenantCountersKey(t) },
};

/** Per key of a scope: every counter field and its count, recomputed from the ledger (FINAL). */
export function counterRecomputeSql(db: string, ledger: string, tenant: string, scope: CounterScope): string {
  const col = SCOPES[scope].column;
  return `SELECT k, groupArray(f) AS fields, groupArray(n) AS counts FROM (
  SELECT k, f, count() AS n FROM (
    SELECT ${col} AS k, ${typeCodeSql} AS code, arrayJoin(${counterFieldsSql}) AS f
    FROM ${table(db, ledger)} FINAL WHERE tenant = ${sqlString(tenant)}${scope === 'category' ? ` AND has(context_keys, 'category')` : ''}
  ) GROUP BY k, f
) GROUP BY k`;
}

/** Per user (or item): the summed ALS weight of each item (user) it interacted with, from the ledger (FINAL). */
export function historyRecomputeSql(
  db: string,
  ledger: string,
  tenant: string,
  side: 'user' | 'item',
  weights: Record<EventType, number>,
): string {
  const [k, f] = side === 'user' ? ['user_id', 'item_id'] : ['item_id', 'user_id'];
  const types = (Object.keys(weights) as EventType[]).filter((t) => weights[t] !== 0);
  const w = `multiIf(${types.map((t) => `event_type = ${sqlString(t)}, ${weights[t]}`).join(', ')}, 0)`;
  return `SELECT k, groupArray(f) AS fields, groupArray(n) AS counts FROM (
  SELECT ${k} AS k, ${f} AS f, sum(${w}) AS n FROM ${table(db, ledger)} FINAL
  WHERE tenant = ${sqlString(tenant)} AND event_type IN (${types.map(sqlString).join(', ')})
  GROUP BY k, f
) GROUP BY k`;
}

export interface HashSetReport {
  keys: number;
  fields: number;
  /** Keys whose stored hash differs from the recomputation (missing keys included). */
  mismatchedKeys: number;
  missingKeys: number;
  sample: HashDiff[];
  ok: boolean;
}

function emptyHashReport(): HashSetReport {
  return { keys: 0, fields: 0, mismatchedKeys: 0, missingKeys: 0, sample: [], ok: true };
}

/** Streams `sql` (rows k, fields[], counts[]) and compares each key's hash in Redis, 500 keys per pipeline. */
async function compareHashes(
  ch: ClickHouseClient,
  redis: Redis,
  sql: string,
  keyOf: (k: string) => string,
  mayBeMissing: (field: string) => boolean,
  report: HashSetReport,
): Promise<void> {
  let chunk: { key: string; expected: Map<string, number> }[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const pipe = redis.pipeline();
    for (const c of chunk) pipe.hgetall(c.key);
    const results = (await pipe.exec()) ?? [];
    chunk.forEach((c, i) => {
      const [err, value] = results[i] ?? [new Error('no reply'), null];
      if (err) throw err;
      const actual = (value ?? {}) as Record<string, string>;
      report.keys++;
      report.fields += c.expected.size;
      const diffs = compareHash(c.key, c.expected, actual, mayBeMissing);
      if (diffs.length > 0) {
        report.mismatchedKeys++;
        if (Object.keys(actual).length === 0) report.missingKeys++;
        for (const d of diffs) if (report.sample.length < SAMPLES) report.sample.push(d);
      }
    });
    chunk = [];
  };
  await streamRows<{ k: string; fields: string[]; counts: (string | number)[] }>(ch, sql, async (row) => {
    chunk.push({ key: keyOf(row.k), expected: new Map(row.fields.map((f, i) => [f, Number(row.counts[i])])) });
    if (chunk.length >= 500) await flush();
  });
  await flush();
  report.ok = report.mismatchedKeys === 0;
}

export interface TenantMeta {
  epochMs: number | null;
  latestEventMs: number | null;
}

export async function readTenantMeta(redis: Redis, tenant: string): Promise<TenantMeta> {
  const [epoch, latest] = await redis.hmget(popularityMetaKey(tenant), 'epochMs', 'latestEventMs');
  return { epochMs: epoch ? Number(epoch) : null, latestEventMs: latest ? Number(latest) : null };
}

/** Windowed counters of every user, item, category and the tenant, against the ledger. */
export async function checkCounters(
  ch: ClickHouseClient,
  redis: Redis,
  db: string,
  ledger: string,
  tenants: readonly string[],
): Promise<Record<CounterScope, HashSetReport>> {
  const out = {
    user: emptyHashReport(),
    item: emptyHashReport(),
    category: emptyHashReport(),
    tenant: emptyHashReport(),
  };
  for (const tenant of tenants) {
    const { latestEventMs } = await readTenantMeta(redis, tenant);
    // Buckets are pruned (only) once out of every window as of a batch's newest event, never after the tenant's newest.
    const mayBeMissing = (field: string) => latestEventMs !== null && isExpiredField(field, latestEventMs);
    for (const scope of Object.keys(SCOPES) as CounterScope[]) {
      await compareHashes(
        ch,
        redis,
        counterRecomputeSql(db, ledger, tenant, scope),
        (k) => SCOPES[scope].key(tenant, k),
        mayBeMissing,
        out[scope],
      );
    }
  }
  return out;
}

/** ALS fold-in interaction histories (user -> item weights and item -> user weights), against the ledger. */
export async function checkAlsHistories(
  ch: ClickHouseClient,
  redis: Redis,
  db: string,
  ledger: string,
  tenants: readonly string[],
  weights: Record<EventType, number>,
): Promise<{ user: HashSetReport; item: HashSetReport }> {
  const out = { user: emptyHashReport(), item: emptyHashReport() };
  for (const tenant of tenants) {
    await compareHashes(
      ch,
      redis,
      historyRecomputeSql(db, ledger, tenant, 'user', weights),
      (k) => alsHistoryKey(tenant, k),
      () => false,
      out.user,
    );
    await compareHashes(
      ch,
      redis,
      historyRecomputeSql(db, ledger, tenant, 'item', weights),
      (k) => alsItemHistoryKey(tenant, k),
      () => false,
      out.item,
    );
  }
  return out;
}

export interface ScoreReport {
  items: number;
  mismatched: number;
  maxRelativeError: number;
  sample: { tenant: string; item: string; expected: number; actual: number | null }[];
  ok: boolean;
}

/**
 * Popularity and trending (forward decay: sum of w * 2^((t - epoch) / halfLife) per item, core/features/popularity.ts) against
 * the ledger, with the tenant's stored epoch. Floating-point sums in another order: equal within `rel`. Valid while
 * no rebase happened and no item was trimmed (the suite's span and catalogue keep it so; a rebase is reported).
 */
export async function checkScores(
  ch: ClickHouseClient,
  redis: Redis,
  db: string,
  ledger: string,
  tenants: readonly string[],
  weights: Record<EventType, number>,
  halfLives: { popularity: number; trending: number },
  rel = 1e-9,
): Promise<{ popularity: ScoreReport; trending: ScoreReport }> {
  const out = {
    popularity: { items: 0, mismatched: 0, maxRelativeError: 0, sample: [], ok: true } as ScoreReport,
    trending: { items: 0, mismatched: 0, maxRelativeError: 0, sample: [], ok: true } as ScoreReport,
  };
  const types = (Object.keys(weights) as EventType[]).filter((t) => weights[t] !== 0);
  const w = `multiIf(${types.map((t) => `event_type = ${sqlString(t)}, ${weights[t]}`).join(', ')}, 0)`;
  for (const tenant of tenants) {
    const { epochMs } = await readTenantMeta(redis, tenant);
    if (epochMs === null) continue;
    for (const which of ['popularity', 'trending'] as const) {
      const report = out[which];
      const zkey = which === 'popularity' ? popularityKey(tenant) : trendingKey(tenant);
      const expected = await queryRows<{ item: string; score: number }>(
        ch,
        `SELECT item_id AS item, sum(${w} * exp2((toInt64(ts_ms) - ${Math.floor(epochMs)}) / ${halfLives[which]})) AS score
FROM ${table(db, ledger)} FINAL WHERE tenant = ${sqlString(tenant)} AND event_type IN (${types.map(sqlString).join(', ')}) GROUP BY item_id`,
      );
      const stored = new Map<string, number>();
      const flat = await redis.zrange(zkey, '0', '-1', 'WITHSCORES');
      for (let i = 0; i + 1 < flat.length; i += 2) stored.set(flat[i]!, Number(flat[i + 1]));
      for (const { item, score } of expected) {
        report.items++;
        const actual = stored.get(item);
        stored.delete(item);
        const err =
          actual === undefined
            ? Infinity
            : Math.abs(actual - Number(score)) / Math.max(Math.abs(Number(score)), 1e-300);
        report.maxRelativeError = Math.max(report.maxRelativeError, err);
        if (actual === undefined || !closeEnough(actual, Number(score), rel)) {
          report.mismatched++;
          if (report.sample.length < SAMPLES)
            report.sample.push({ tenant, item, expected: Number(score), actual: actual ?? null });
        }
      }
      for (const [item, actual] of stored) {
        report.mismatched++;
        if (report.sample.length < SAMPLES) report.sample.push({ tenant, item, expected: 0, actual });
      }
    }
  }
  out.popularity.ok = out.popularity.mismatched === 0;
  out.trending.ok = out.trending.mismatched === 0;
  return out;
}

export interface MarkerReport {
  /** Per tenant: events the features processor marked as applied vs accepted events. */
  features: Record<string, { markers: number; expected: number }>;
  /** Per tenant: events the ALS fold-in marked vs accepted events with a non-zero weight. */
  als: Record<string, { markers: number; expected: number }>;
  keysScanned: number;
  ok: boolean;
}

/** Counts the per-event de-duplication markers by tenant with one SCAN of the keyspace. */
export async function checkMarkers(
  redis: Redis,
  expectedFeatures: ReadonlyMap<string, number>,
  expectedAls: ReadonlyMap<string, number>,
): Promise<MarkerReport> {
  const features: MarkerReport['features'] = {};
  const als: MarkerReport['als'] = {};
  for (const [t, n] of expectedFeatures) features[t] = { markers: 0, expected: n };
  for (const [t, n] of expectedAls) als[t] = { markers: 0, expected: n };
  let cursor = '0';
  let scanned = 0;
  const re = /^rs:\{([^}]*)\}:ev:(features|als):/;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', 'rs:{*}:ev:*', 'COUNT', '10000');
    cursor = next;
    for (const k of keys) {
      scanned++;
      const m = re.exec(k);
      if (!m) continue;
      const target = m[2] === 'features' ? features : als;
      (target[m[1]!] ??= { markers: 0, expected: 0 }).markers++;
    }
  } while (cursor !== '0');
  const ok = [...Object.values(features), ...Object.values(als)].every((r) => r.markers === r.expected);
  return { features, als, keysScanned: scanned, ok };
}

export interface ScalerReport {
  /** Per tenant and partition: the offset folded up to vs the last offset of that tenant's events in the ledger. */
  partitions: { tenant: string; partition: number; folded: string | null; ledgerMax: string }[];
  ok: boolean;
}

/** The scaler's exactly-once position: each (tenant, partition) accumulator has folded up to its last event. */
export async function checkScalerOffsets(
  ch: ClickHouseClient,
  redis: Redis,
  db: string,
  ledger: string,
  topic: string,
  tenants: readonly string[],
): Promise<ScalerReport> {
  const partitions: ScalerReport['partitions'] = [];
  for (const tenant of tenants) {
    const stored = await redis.hgetall(scalerAccKey(tenant));
    const rows = await queryRows<{ p: number; o: string }>(
      ch,
      `SELECT kafka_partition AS p, toString(max(kafka_offset)) AS o FROM ${table(db, ledger)} WHERE tenant = ${sqlString(tenant)} GROUP BY p ORDER BY p`,
    );
    for (const { p, o } of rows) {
      const raw = stored[`${topic}:${p}`];
      partitions.push({
        tenant,
        partition: Number(p),
        folded: raw ? (JSON.parse(raw) as { offset: string }).offset : null,
        ledgerMax: o,
      });
    }
  }
  return { partitions, ok: partitions.every((p) => p.folded === p.ledgerMax) };
}

// ------------------------------------------------------------------------------------------------ dead letters

/** Every record on a topic up to its current end, parsed as dead letters. */
export async function readDeadLetters(
  kafka: Kafka,
  admin: Admin,
  topic: string,
  timeoutMs = 120_000,
): Promise<DeadLetter[]> {
  const ends = await admin.fetchTopicOffsets(topic);
  const remaining = new Map(
    ends.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]),
  );
  const letters: DeadLetter[] = [];
  if (remaining.size === 0) return letters;
  const consumer = kafka.consumer({ groupId: `faults-dlq-reader-${process.pid}-${Date.now()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => undefined;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          const high = remaining.get(batch.partition);
          if (high === undefined || BigInt(m.offset) >= high) continue;
          letters.push(parseDeadLetter(m.value));
          if (BigInt(m.offset) + 1n >= high) remaining.delete(batch.partition);
        }
        if (remaining.size === 0) done();
      },
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      finished,
      new Promise<void>(
        (_, reject) =>
          (timer = setTimeout(
            () =>
              reject(
                new Error(
                  `reading ${topic}: partitions ${[...remaining.keys()].join(', ')} not read to their end after ${timeoutMs} ms`,
                ),
              ),
            timeoutMs,
          )),
      ),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return letters;
}
