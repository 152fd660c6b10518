// Bad input through the real services: malformed bytes, unknown schema ids, other record types, wrong types, missing
// fields, out-of-range values, ancient and future timestamps, unregistered tenants and oversized records on the events,
// items and feed-requests topics; HTTP junk at a running reader. Every bad record is dead-lettered once with its reason
// (or answered with a Feed naming the field), every good one arrives, nothing stops, and ids full of quotes,
// backslashes, control characters and SQL come back from ClickHouse exactly as sent. Generators are seeded (FUZZ_SEED).
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import fc from 'fast-check';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../core/catalog.ts';
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { provision, type Provisioned } from '../../apps/provision.ts';
import { createClickHouse, sqlString, type ClickHouseClient } from '../../platform/clickhouse.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { readCatalogItems } from '../../state/catalog.ts';
import { seenKey } from '../../state/keys.ts';
import { countLedgerRows } from '../../state/ledger.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { encodeEvent, type EventSchemaIds } from '../../schemas/event-codec.ts';
import { decodeFeed, type FeedRecord } from '../../schemas/feed-codec.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { createApiKey } from '../../state/api-keys.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import { parseDeadLetter, type DeadLetter } from '../../streams/dead-letter.ts';
import { eventKey } from '../../streams/event-producer.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { FUZZ_SEED, nastyStrings } from '../fuzz-inputs.ts';
import { isolatedConfig, logger, readTopic } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const MAX_RECORD_BYTES = 512 * 1024;
const config = isolatedConfig('badinput', {
  REQUIRE_REGISTERED_TENANTS: 'true',
  RATE_LIMIT_PER_S: '0',
  MAX_RECORD_BYTES: String(MAX_RECORD_BYTES),
});
const T = `fuzz-${config.suffix}`.replace(/_/g, '-');
const UNREGISTERED = `nobody-${config.suffix}`.replace(/_/g, '-');
const db = config.clickhouse.database;
const now = Date.now();
const rand = seededRandom(FUZZ_SEED);
const sample = <A>(arb: fc.Arbitrary<A>, n: number, offset = 0) =>
  fc.sample(arb, { seed: FUZZ_SEED + offset, numRuns: n });
/** Nasty strings and seeded random unicode of 1..60 characters (valid ids). */
const idStrings = [...nastyStrings, ...sample(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), 40)];
const randomBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));

let kafka: Kafka;
let admin: Admin;
let raw: Producer;
let registry: SchemaRegistryClient;
let provisioned: Provisioned;
let eventIds: EventSchemaIds;
let processors: RunningProcessors;
let reader: RunningReader;
let clickhouse: ClickHouseClient;
let redis: Redis;

beforeAll(async () => {
  provisioned = await provision(config, logger);
  eventIds = provisioned.eventSchemaIds;
  kafka = createKafka(config, logger);
  admin = kafka.admin();
  await admin.connect();
  raw = createProducer(kafka);
  await raw.connect();
  registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  clickhouse = createClickHouse(config);
  redis = createRedis(config);
  await createApiKey(redis, T);
  processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
  reader = await startReader(config, logger, createMetrics(false), {
    groupId: `test-${config.suffix}-reader`,
    port: 0,
  });
});

afterAll(async () => {
  await raw?.disconnect();
  await reader?.stop();
  await processors?.stop();
  await admin?.disconnect();
  await clickhouse?.close();
  redis?.disconnect();
});

interface Rejected {
  key: string;
  value: Buffer | null;
  stage: 'decode' | 'validate';
  reason: RegExp;
  truncated?: boolean;
}

/** Sends records one by one where large (each alone under the broker's limit), the rest in shuffled sends of 50. */
async function sendShuffled(topic: string, messages: { key: string; value: Buffer | null }[]): Promise<void> {
  const order = messages
    .map((m) => ({ m, r: rand() }))
    .sort((a, b) => a.r - b.r)
    .map((x) => x.m);
  const small = order.filter((m) => (m.value?.length ?? 0) < 100_000);
  for (const m of order.filter((m) => (m.value?.length ?? 0) >= 100_000))
    await raw.send({ topic, acks: -1, messages: [m] });
  for (let i = 0; i < small.length; i += 50) await raw.send({ topic, acks: -1, messages: small.slice(i, i + 50) });
}

/** Registers a schema under a scratch subject of this test: a record named like ours with other fields. */
async function registerImpostor(name: string, fields: unknown[]): Promise<number> {
  const text = JSON.stringify({ type: 'record', name, namespace: 'io.rankstream.events', fields });
  return registry.register(`${config.topics.events}-impostor-${name}-${randomUUID()}`, text);
}

/** Checks that every rejected record is in the dead-letter topic exactly once, with its stage and reason. */
function expectLetters(letters: DeadLetter[], rejected: Rejected[], processor: string): void {
  const byKey = new Map<string, DeadLetter[]>();
  for (const l of letters) {
    const key = Buffer.from(l.source.key ?? '', 'base64').toString();
    byKey.set(key, [...(byKey.get(key) ?? []), l]);
  }
  for (const r of rejected) {
    const got = byKey.get(r.key) ?? [];
    expect(got, `dead letters for ${r.key}`).toHaveLength(1);
    const l = got[0]!;
    expect(l, r.key).toMatchObject({ stage: r.stage, processor });
    expect(l.reason, `${r.key}: ${l.reason}`).toMatch(r.reason);
    if (r.truncated) expect(l).toMatchObject({ payloadTruncated: true, payloadBytes: r.value!.length });
    else if (r.value === null) expect(l.payload).toBeNull();
    else expect(Buffer.from(l.payload ?? '', 'base64').equals(r.value), `${r.key}: payload kept whole`).toBe(true);
  }
  expect(letters).toHaveLength(rejected.length);
}

const click = (over: Partial<InteractionEvent> & { eventId: string }): InteractionEvent =>
  ({
    type: 'click',
    tenant: T,
    userId: 'u',
    itemId: 'i',
    timestamp: now - 3_600_000,
    context: {},
    recommendationId: null,
    ...over,
  }) as InteractionEvent;

describe('bad input on the events topic', () => {
  it('dead-letters every bad record once with its reason, ledgers every good one, and round-trips hostile ids through ClickHouse', async () => {
    const rejected: Rejected[] = [];
    let n = 0;
    const reject = (value: Buffer | null, stage: Rejected['stage'], reason: RegExp, truncated = false) =>
      rejected.push({ key: `bad-${n++}`, value, stage, reason, truncated });
    const encClick = (record: Record<string, unknown>) =>
      registry.encode(eventIds.click, {
        eventId: 'x',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
        ...record,
      });

    // malformed bytes
    for (let i = 0; i < 30; i++) {
      const b = randomBytes(1 + Math.floor(rand() * 400));
      b[0] = 1 + Math.floor(rand() * 255); // no magic byte
      reject(b, 'decode', /not Confluent wire format/);
    }
    reject(Buffer.from([0]), 'decode', /not Confluent wire format/);
    reject(Buffer.from([0, 0, 0]), 'decode', /not Confluent wire format/);
    reject(null, 'decode', /empty message value/);
    reject(Buffer.from('{"eventId":"json, not avro"}'), 'decode', /magic byte/);
    // unknown schema ids, including negative and zero
    for (const id of [-1, 0, 2 ** 31 - 1, 987_654_321]) {
      const b = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), randomBytes(20)]);
      b.writeInt32BE(id, 1);
      reject(b, 'decode', new RegExp(`unknown schema id ${id}`));
    }
    // another record type on this topic: a catalogue item, a feed request
    reject(
      await registry.encode(provisioned.itemSchemaId, {
        tenant: T,
        itemId: 'i',
        attributes: {},
        numeric: {},
        createdAt: now,
        updatedAt: now,
        deleted: false,
      }),
      'decode',
      /io\.rankstream\.catalog\.Item, not an interaction event/,
    );
    reject(
      await registry.encode(provisioned.feedSchemaIds.request, {
        requestId: 'r',
        tenant: T,
        userId: 'u',
        k: 3,
        exclude: [],
        where: null,
        seedItems: [],
        rules: null,
        timestamp: now,
      }),
      'decode',
      /not an interaction event/,
    );
    // corrupt Avro: truncated, trailing bytes, a string length past the end
    const good = await encClick({ eventId: 'corrupt' });
    reject(good.subarray(0, good.length - 3), 'decode', /Avro body does not decode/);
    reject(Buffer.concat([good, Buffer.from([1, 2, 3])]), 'decode', /Avro body does not decode/);
    reject(
      Buffer.concat([good.subarray(0, 5), Buffer.from([0x80, 0x80, 0x80, 0x80, 0x10])]),
      'decode',
      /Avro body does not decode/,
    );
    // wrong types and missing fields: records named io.rankstream.events.Click with other fields
    const base = [
      { name: 'eventId', type: 'string' },
      { name: 'tenant', type: 'string' },
      { name: 'userId', type: 'string' },
      { name: 'itemId', type: 'string' },
      { name: 'timestamp', type: 'long' },
      { name: 'recommendationId', type: ['null', 'string'], default: null },
      { name: 'context', type: { type: 'map', values: 'string' }, default: {} },
    ];
    const stringTime = await registerImpostor(
      'Click',
      base.map((f) => (f.name === 'timestamp' ? { name: 'timestamp', type: 'string' } : f)),
    );
    reject(
      await registry.encode(stringTime, {
        eventId: 'w1',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: 'yesterday',
        recommendationId: null,
        context: {},
      }),
      'validate',
      /timestamp: .*expected number/,
    );
    const noUser = await registerImpostor(
      'Click',
      base.filter((f) => f.name !== 'userId'),
    );
    reject(
      await registry.encode(noUser, {
        eventId: 'w2',
        tenant: T,
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
      }),
      'validate',
      /userId: .*expected string/,
    );
    const intTenant = await registerImpostor(
      'Click',
      base.map((f) => (f.name === 'tenant' ? { name: 'tenant', type: 'int' } : f)),
    );
    reject(
      await registry.encode(intTenant, {
        eventId: 'w3',
        tenant: 42,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
      }),
      'validate',
      /tenant: .*expected string/,
    );
    const notEvent = await registerImpostor('Refund', base);
    reject(
      await registry.encode(notEvent, {
        eventId: 'w4',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
      }),
      'decode',
      /io\.rankstream\.events\.Refund, not an interaction event/,
    );
    // values the schema allows and the rules do not
    reject(await encClick({ eventId: '' }), 'validate', /eventId: must not be empty/);
    reject(await encClick({ userId: 'u'.repeat(257) }), 'validate', /userId: longer than 256/);
    reject(await encClick({ itemId: '' }), 'validate', /itemId: must not be empty/);
    reject(await encClick({ tenant: "x'; DROP TABLE ledger; --" }), 'validate', /tenant: must match/);
    reject(await encClick({ tenant: '' }), 'validate', /tenant: must match/);
    reject(await encClick({ recommendationId: '' }), 'validate', /recommendationId: must not be empty/);
    reject(
      await encClick({ context: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) }),
      'validate',
      /context: more than 64 entries/,
    );
    reject(await encClick({ context: { big: 'v'.repeat(2000) } }), 'validate', /context\.big: /);
    for (const timestamp of [0, -5, Date.UTC(1989, 11, 31), 15_000])
      reject(await encClick({ timestamp }), 'validate', /timestamp: before 1990-01-01/);
    for (const timestamp of [now + 2 * 86_400_000, 2 ** 52, 8.64e15])
      reject(await encClick({ timestamp }), 'validate', /timestamp: more than 24 h in the future/);
    reject(
      await registry.encode(eventIds.conversion, {
        eventId: 'nan',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
        value: Number.NaN,
      }),
      'validate',
      /value: /,
    );
    reject(
      await registry.encode(eventIds.impression, {
        eventId: 'neg',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: 'r',
        position: -3,
        feedId: 'home',
        context: {},
      }),
      'validate',
      /position: /,
    );
    // an unregistered tenant (REQUIRE_REGISTERED_TENANTS)
    for (let i = 0; i < 3; i++)
      reject(
        await encClick({ eventId: `ghost-${i}`, tenant: UNREGISTERED }),
        'validate',
        new RegExp(`tenant: "${UNREGISTERED}" is not registered`),
      );
    // oversized: junk over MAX_RECORD_BYTES (the letter keeps its head), and valid Avro with a context far over its bounds
    reject(
      Buffer.concat([Buffer.from([0, 0, 0, 0, 1]), randomBytes(MAX_RECORD_BYTES + 100_000)]),
      'decode',
      /exceeds MAX_RECORD_BYTES/,
      true,
    );
    for (let i = 0; i < 3; i++)
      reject(
        await encClick({ eventId: `huge-${i}`, context: { blob: 'z'.repeat(300_000) } }),
        'validate',
        /context\.blob: /,
      );

    // good events whose ids and context are hostile strings
    const accepted: InteractionEvent[] = [];
    idStrings.forEach((s, i) => {
      const other = idStrings[(i * 7 + 3) % idStrings.length]!;
      const ts = now - 86_400_000 + i * 1000;
      const common = {
        eventId: `${s}#${i}`.slice(-256),
        tenant: T,
        userId: s,
        itemId: other,
        timestamp: ts,
        context: { [s.slice(0, 128)]: other, plain: s },
      };
      const kind = i % 4;
      if (kind === 0) accepted.push({ ...common, type: 'click', recommendationId: other });
      else if (kind === 1)
        accepted.push({ ...common, type: 'impression', recommendationId: s, position: i, feedId: other });
      else if (kind === 2) accepted.push({ ...common, type: 'engagement', action: s, recommendationId: null });
      else accepted.push({ ...common, type: 'conversion', value: i * 1.5, recommendationId: null });
    });
    // a context key "__proto__" (fast-check generates it on purpose): avsc drops such a key while decoding; refused by name
    const protoKey = { ['__proto__']: 'x', plain: 'y' };
    reject(
      await encodeEvent(registry, eventIds, click({ eventId: 'proto', context: protoKey })),
      'decode',
      /map key "__proto__"/,
    );
    for (const e of accepted.filter((x) => Object.prototype.hasOwnProperty.call(x.context, '__proto__'))) {
      reject(await encodeEvent(registry, eventIds, e), 'decode', /map key "__proto__"/);
      accepted.splice(accepted.indexOf(e), 1);
    }
    const goodMessages = await Promise.all(
      accepted.map(async (e) => ({ key: eventKey(e), value: await encodeEvent(registry, eventIds, e) })),
    );

    await sendShuffled(config.topics.events, [...rejected.map(({ key, value }) => ({ key, value })), ...goodMessages]);
    // processing goes on after the junk: a sentinel sent last arrives
    const sentinel = click({ eventId: 'sentinel' });
    await raw.send({
      topic: config.topics.events,
      acks: -1,
      messages: [{ key: eventKey(sentinel), value: await encodeEvent(registry, eventIds, sentinel) }],
    });
    await eventually(
      'every good event in the ledger',
      () => countLedgerRows(clickhouse, db, config.ledger.table, T),
      (c) => c === accepted.length + 1,
      90_000,
    );
    await waitForCaughtUp(
      admin,
      ['ledger-writer', 'features', 'als-fold-in', 'scaler', 'ranker-trainer'].map((p) => `test-${config.suffix}-${p}`),
      config.topics.events,
      60_000,
    );

    const letters = (await readTopic(config, config.topics.eventsDlq, rejected.length)).map((m) =>
      parseDeadLetter(m.value),
    );
    expectLetters(letters, rejected, 'ledger-writer');
    expect(await countLedgerRows(clickhouse, db, config.ledger.table, UNREGISTERED)).toBe(0);

    // read every good event back and compare field by field
    const rs = await clickhouse.query({
      query: `SELECT event_id, event_type, user_id, item_id, ts_ms, recommendation_id, feed_id, position, action, value, context_keys, context_values FROM ${db}.${config.ledger.table} FINAL WHERE tenant = ${sqlString(T)}`,
      format: 'JSONEachRow',
    });
    const rows = new Map((await rs.json<Record<string, unknown>>()).map((r) => [r.event_id as string, r]));
    for (const e of accepted) {
      const keys = Object.keys(e.context).sort();
      expect(rows.get(e.eventId), JSON.stringify(e.eventId)).toEqual({
        event_id: e.eventId,
        event_type: e.type,
        user_id: e.userId,
        item_id: e.itemId,
        ts_ms: String(e.timestamp),
        recommendation_id: e.recommendationId,
        feed_id: e.type === 'impression' ? e.feedId : null,
        position: e.type === 'impression' ? e.position : null,
        action: e.type === 'engagement' ? e.action : null,
        value: e.type === 'conversion' ? e.value : null,
        context_keys: keys,
        context_values: keys.map((k) => e.context[k]),
      });
    }
    // and find each by its id through an escaped literal in a WHERE clause
    for (const e of accepted) {
      const one = await clickhouse.query({
        query: `SELECT user_id FROM ${db}.${config.ledger.table} FINAL WHERE tenant = ${sqlString(T)} AND event_id = ${sqlString(e.eventId)} AND user_id = ${sqlString(e.userId)}`,
        format: 'JSONEachRow',
      });
      expect(await one.json<{ user_id: string }>(), JSON.stringify(e.eventId)).toEqual([{ user_id: e.userId }]);
    }
    // the Redis features took the same ids as keys and members
    for (const e of accepted.filter((x) => x.type !== 'impression').slice(0, 10)) {
      expect(await redis.zscore(seenKey(T, e.userId), e.itemId), JSON.stringify(e.userId)).not.toBeNull();
    }
  }, 240_000);
});

describe('bad input on the items topic', () => {
  it('dead-letters bad item records and stores hostile ids and attribute values exactly', async () => {
    const rejected: Rejected[] = [];
    let n = 0;
    const reject = (value: Buffer | null, stage: Rejected['stage'], reason: RegExp, truncated = false) =>
      rejected.push({ key: `bad-item-${n++}`, value, stage, reason, truncated });
    const encItem = (over: Partial<CatalogItem>) =>
      registry.encode(provisioned.itemSchemaId, {
        tenant: T,
        itemId: 'x',
        attributes: {},
        numeric: {},
        createdAt: now - 1000,
        updatedAt: now - 500,
        deleted: false,
        ...over,
      });
    for (let i = 0; i < 10; i++)
      reject(
        Buffer.concat([Buffer.from([7]), randomBytes(Math.floor(rand() * 200))]),
        'decode',
        /not Confluent wire format/,
      );
    reject(
      await registry.encode(eventIds.click, {
        eventId: 'e',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
      }),
      'decode',
      /not io\.rankstream\.catalog\.Item/,
    );
    reject(await encItem({ itemId: '' }), 'validate', /itemId: must not be empty/);
    reject(await encItem({ attributes: { "genre'); DROP TABLE items; --": ['x'] } }), 'validate', /attributes/);
    reject(
      await encItem({ attributes: { tags: Array(65).fill('t') } }),
      'validate',
      /attributes\.tags: more than 64 values/,
    );
    reject(
      await encItem({ numeric: { price: Number.POSITIVE_INFINITY } }),
      'validate',
      /numeric\.price: .*(finite|Infinity)/,
    );
    reject(await encItem({ createdAt: now + 3 * 86_400_000 }), 'validate', /createdAt: more than 24 h in the future/);
    reject(await encItem({ updatedAt: 12 }), 'validate', /updatedAt: before 1990-01-01/);
    reject(await encItem({ tenant: UNREGISTERED, itemId: 'ghost' }), 'validate', /is not registered/);
    reject(
      await encItem({ attributes: { ['__proto__']: ['polluted'], genres: ['a'] } }),
      'decode',
      /map key "__proto__"/,
    );
    reject(
      Buffer.concat([Buffer.from([0, 0, 0, 0, 2]), randomBytes(MAX_RECORD_BYTES + 10)]),
      'decode',
      /exceeds MAX_RECORD_BYTES/,
      true,
    );

    const accepted: CatalogItem[] = idStrings.slice(0, 40).map((s, i) => ({
      tenant: T,
      itemId: `${s}@${i}`.slice(-256),
      attributes: { title: [s], tags: [idStrings[(i + 5) % idStrings.length]!, 'plain'] },
      numeric: { price: i / 3 },
      createdAt: now - 10_000,
      updatedAt: now - 5_000 + i,
      deleted: false,
    }));
    const goodMessages = await Promise.all(
      accepted.map(async (it) => ({
        key: `${it.tenant}:${it.itemId}`,
        value: await registry.encode(provisioned.itemSchemaId, { ...it }),
      })),
    );
    await sendShuffled(config.topics.items, [...rejected.map(({ key, value }) => ({ key, value })), ...goodMessages]);
    await waitForCaughtUp(admin, [`test-${config.suffix}-catalog`], config.topics.items, 60_000);

    const letters = (await readTopic(config, config.topics.itemsDlq, rejected.length)).map((m) =>
      parseDeadLetter(m.value),
    );
    expectLetters(letters, rejected, 'catalog');

    const rs = await clickhouse.query({
      query: `SELECT item_id, attribute_keys, attribute_values, numeric_values FROM ${db}.${config.catalog.table} FINAL WHERE tenant = ${sqlString(T)}`,
      format: 'JSONEachRow',
    });
    const rows = new Map(
      (
        await rs.json<{
          item_id: string;
          attribute_keys: string[];
          attribute_values: string[];
          numeric_values: number[];
        }>()
      ).map((r) => [r.item_id, r]),
    );
    expect(rows.size).toBe(accepted.length);
    for (const it of accepted) {
      expect(rows.get(it.itemId), JSON.stringify(it.itemId)).toEqual({
        item_id: it.itemId,
        attribute_keys: ['tags', 'tags', 'title'],
        attribute_values: [...it.attributes.tags!, ...it.attributes.title!],
        numeric_values: [it.numeric.price],
      });
    }
    const stored = await readCatalogItems(
      redis,
      T,
      accepted.map((it) => it.itemId),
    );
    for (const it of accepted)
      expect(stored.get(it.itemId), JSON.stringify(it.itemId)).toMatchObject({
        itemId: it.itemId,
        attributes: it.attributes,
      });
  }, 180_000);
});

describe('bad input on the feed-requests topic', () => {
  it('answers every decodable request with one Feed (the field named when invalid) and dead-letters the rest', async () => {
    const undecodable: Rejected[] = [];
    for (let i = 0; i < 10; i++)
      undecodable.push({
        key: `junk-${i}`,
        value: Buffer.concat([Buffer.from([3]), randomBytes(50)]),
        stage: 'decode',
        reason: /not Confluent wire format/,
      });
    undecodable.push({
      key: 'junk-click',
      value: await registry.encode(eventIds.click, {
        eventId: 'e',
        tenant: T,
        userId: 'u',
        itemId: 'i',
        timestamp: now,
        recommendationId: null,
        context: {},
      }),
      stage: 'decode',
      reason: /not io\.rankstream\.serving\.FeedRequest/,
    });
    undecodable.push({
      key: 'junk-big',
      value: Buffer.concat([Buffer.from([0, 0, 0, 0, 3]), randomBytes(MAX_RECORD_BYTES)]),
      stage: 'decode',
      reason: /exceeds MAX_RECORD_BYTES/,
      truncated: true,
    });

    // records named io.rankstream.serving.FeedRequest with other fields: without the id its Feed would echo, and with k as text
    const impostor = (fields: unknown[]) =>
      registry.register(
        `${config.topics.feedRequests}-impostor-${randomUUID()}`,
        JSON.stringify({ type: 'record', name: 'FeedRequest', namespace: 'io.rankstream.serving', fields }),
      );
    const noId = await impostor([
      { name: 'tenant', type: 'string' },
      { name: 'userId', type: 'string' },
      { name: 'k', type: 'int' },
    ]);
    undecodable.push({
      key: 'junk-no-id',
      value: await registry.encode(noId, { tenant: T, userId: 'u', k: 3 }),
      stage: 'validate',
      reason: /requestId: .*expected string/,
    });
    const textK = await impostor([
      { name: 'requestId', type: 'string' },
      { name: 'tenant', type: 'string' },
      { name: 'userId', type: 'string' },
      { name: 'k', type: 'string' },
    ]);
    const textKRequest = { requestId: randomUUID(), tenant: T, userId: 'u', k: 'ten' };

    const request = (over: Record<string, unknown>) => ({
      requestId: randomUUID(),
      tenant: T,
      userId: 'u',
      k: 3,
      exclude: [],
      where: null,
      seedItems: [],
      rules: null,
      timestamp: now,
      ...over,
    });
    const invalid: { req: ReturnType<typeof request>; field: string }[] = [
      { req: request({ k: 0 }), field: 'k' },
      { req: request({ k: 1_000_000 }), field: 'k' },
      { req: request({ userId: '' }), field: 'user' },
      { req: request({ userId: 'u'.repeat(300) }), field: 'user' },
      { req: request({ tenant: "acme' OR 1=1 --" }), field: 'tenant' },
      { req: request({ where: '{' }), field: 'where' },
      { req: request({ where: JSON.stringify({ "a') OR ('1'='1": ['x'] }) }), field: 'where' },
      { req: request({ where: JSON.stringify({ price: { min: 10, max: 1 } }) }), field: 'where' },
      { req: request({ rules: '{"drop":"table"}' }), field: 'rules' },
      { req: request({ rules: 'null' }), field: 'rules' },
      { req: request({ exclude: Array(1001).fill('e') }), field: 'exclude' },
      { req: request({ seedItems: Array(21).fill('s') }), field: 'seedItems' },
    ];
    const unknownTenant = request({ tenant: UNREGISTERED });
    const hostile = idStrings.slice(0, 30).map((s) =>
      request({
        userId: s,
        exclude: [s],
        seedItems: [s],
        where: JSON.stringify({ title: [s] }),
        rules: JSON.stringify({ pin: [s], exclude: [{ attribute: 'tags', values: [s] }] }),
      }),
    );
    const decodable = [...invalid.map((x) => x.req), unknownTenant, ...hostile];
    const messages = [
      ...undecodable.map(({ key, value }) => ({ key, value })),
      { key: 'text-k', value: await registry.encode(textK, textKRequest) },
      ...(await Promise.all(
        decodable.map(async (r) => ({
          key: `${r.tenant}/${r.userId}`.slice(0, 1000),
          value: await registry.encode(provisioned.feedSchemaIds.request, r),
        })),
      )),
    ];
    await sendShuffled(config.topics.feedRequests, messages);

    const feeds = await Promise.all(
      (await readTopic(config, config.topics.feeds, decodable.length + 1, 90_000)).map(async (m) => ({
        key: m.key?.toString(),
        feed: await decodeFeed(registry, m.value),
      })),
    );
    expect(feeds).toHaveLength(decodable.length + 1);
    const byId = new Map<string, { key: string | undefined; feed: FeedRecord }>(
      feeds.map((f) => [f.feed.requestId, f]),
    );
    for (const { req, field } of invalid) {
      const f = byId.get(req.requestId)!.feed;
      expect(f, field).toMatchObject({ status: 'invalid_request', items: [] });
      expect(f.error, f.error ?? '').toMatch(new RegExp(`^${field}: `));
    }
    expect(byId.get(unknownTenant.requestId)!.feed).toMatchObject({ status: 'unknown_tenant' });
    expect(byId.get(textKRequest.requestId)!.feed).toMatchObject({
      status: 'invalid_request',
      error: expect.stringMatching(/^k: /),
    });
    for (const req of hostile) {
      const { key, feed } = byId.get(req.requestId)!;
      expect(feed, JSON.stringify(req.userId)).toMatchObject({ status: 'ok', userId: req.userId, tenant: T });
      expect(key).toBe(`${T}/${req.userId}`);
    }
    const letters = (await readTopic(config, config.topics.feedRequestsDlq, undecodable.length)).map((m) =>
      parseDeadLetter(m.value),
    );
    expectLetters(letters, undecodable, 'feed-reader');
  }, 180_000);
});

describe('HTTP junk at a running reader', () => {
  it('serves hostile user ids and constraint values as data, and refuses junk with a 4xx naming the field', async () => {
    for (const s of idStrings.slice(0, 40)) {
      const get = await fetch(
        `${reader.url}/v1/feeds/${encodeURIComponent(s)}?tenant=${T}&k=3&exclude=${encodeURIComponent(s.replace(/,/g, ''))}&where=${encodeURIComponent(JSON.stringify({ title: [s] }))}`,
      );
      expect(get.status, JSON.stringify(s)).toBe(200);
      expect(((await get.json()) as { user: string }).user).toBe(s);
      const post = await fetch(`${reader.url}/v1/feeds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          tenant: T,
          user: s,
          k: 2,
          seedItems: [s],
          rules: { pin: [s], boost: [{ attribute: 'tags', value: s, factor: 2 }] },
        }),
      });
      expect(post.status, JSON.stringify(s)).toBe(200);
      expect(((await post.json()) as { user: string }).user).toBe(s);
      const features = await fetch(`${reader.url}/v1/users/${encodeURIComponent(s)}/features?tenant=${T}`);
      expect(features.status, JSON.stringify(s)).toBe(200);
    }
    const big = await fetch(`${reader.url}/v1/feeds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: T, user: 'u', exclude: Array(20_000).fill('item-id') }),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ field: 'body' });
    const longUrl = await fetch(`${reader.url}/v1/feeds/u?tenant=${T}&where=${'x'.repeat(100_000)}`);
    expect(longUrl.status).toBe(431); // Node's header limit (16 KiB) refuses it before routing

    // seeded random junk: never a 5xx, always a JSON error naming a field
    const junk = sample(
      fc.record({
        method: fc.constantFrom('GET', 'POST'),
        user: fc.oneof(fc.constantFrom(...nastyStrings), fc.string({ unit: 'binary', minLength: 1, maxLength: 300 })),
        query: fc.array(
          fc.tuple(
            fc.constantFrom('tenant', 'k', 'where', 'rules', 'exclude', 'seed', 'explain'),
            fc.oneof(fc.constantFrom(...nastyStrings), fc.json(), fc.constant(T)),
          ),
          { maxLength: 4 },
        ),
        contentType: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'),
        body: fc.oneof(
          fc.json(),
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.jsonValue().map((v) => JSON.stringify({ tenant: T, user: 'u', k: v, where: v, rules: v, exclude: v })),
        ),
      }),
      400,
      7,
    );
    const statuses = new Map<number, number>();
    for (const j of junk) {
      const qs = j.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
      const res =
        j.method === 'GET'
          ? await fetch(`${reader.url}/v1/feeds/${encodeURIComponent(j.user)}?${qs}`)
          : await fetch(`${reader.url}/v1/feeds?${qs}`, {
              method: 'POST',
              headers: { 'content-type': j.contentType },
              body: j.body,
            });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      const body = (await res.json()) as { error?: unknown; field?: unknown };
      expect(res.status, JSON.stringify(j)).toBeLessThan(500);
      if (res.status >= 400)
        expect(typeof body.field === 'string' && typeof body.error === 'string', JSON.stringify(body)).toBe(true);
    }
    expect(statuses.get(400)).toBeGreaterThan(50);

    // bytes that are not HTTP at all get Node's 400 and a closed socket
    const reply = await new Promise<string>((resolve, reject) => {
      const url = new URL(reader.url);
      const socket = connect(Number(url.port), url.hostname, () => socket.end('GARBAGE \u0000\u0001 nonsense\r\n\r\n'));
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    // still alive and ready
    expect((await fetch(`${reader.url}/livez`)).status).toBe(200);
    expect((await fetch(`${reader.url}/v1/feeds/u?tenant=${T}&k=2`)).status).toBe(200);
  }, 180_000);
});

describe('sqlString against ClickHouse', () => {
  it('returns every seeded string unchanged from a literal', async () => {
    const strings = [
      ...nastyStrings,
      ...sample(fc.string({ unit: 'binary', maxLength: 80 }), 600, 3),
      ...sample(
        fc.string({
          unit: fc.constantFrom("'", '\\', '\n', '\r', '\t', '\0', 'a', '"', '`', '\u0007', '\b', '\f', '\v'),
          maxLength: 12,
        }),
        300,
        5,
      ),
    ];
    for (let i = 0; i < strings.length; i += 100) {
      const chunk = strings.slice(i, i + 100);
      const rs = await clickhouse.query({
        query: `SELECT [${chunk.map(sqlString).join(', ')}] AS v`,
        format: 'JSONEachRow',
      });
      const [row] = await rs.json<{ v: string[] }>();
      expect(row!.v).toEqual(chunk);
    }
  });
});
