// Events through real Kafka + registry into the ClickHouse ledger and the Redis popularity state.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { provision } from '../../apps/provision.ts';
import { createClickHouse, sqlString, type ClickHouseClient } from '../../platform/clickhouse.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { countLedgerRows } from '../../state/ledger.ts';
import { popularityKey, seenKey } from '../../state/keys.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { parseDeadLetter } from '../../streams/dead-letter.ts';
import { EventProducer } from '../../streams/event-producer.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { isolatedConfig, logger, readTopic } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const config = isolatedConfig('pipeline');
const tenant = `acme-${config.suffix}`.replace(/_/g, '-');
const db = config.clickhouse.database;
const table = config.ledger.table;
let kafka: Kafka;
let producer: EventProducer;
let processors: RunningProcessors;
let registry: SchemaRegistryClient;
let clickhouse: ClickHouseClient;
let redis: Redis;

const t0 = Date.UTC(2026, 0, 1);
function click(id: string, user: string, item: string, ts = t0): InteractionEvent {
  return {
    type: 'click',
    eventId: id,
    tenant,
    userId: user,
    itemId: item,
    timestamp: ts,
    context: {},
    recommendationId: null,
  };
}

beforeAll(async () => {
  await provision(config, logger);
  kafka = createKafka(config, logger);
  registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  producer = await EventProducer.connect(kafka, registry, config.topics.events);
  processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
  clickhouse = createClickHouse(config);
  redis = createRedis(config);
});

afterAll(async () => {
  await producer?.disconnect();
  await processors?.stop();
  await clickhouse?.close();
  redis?.disconnect();
});

const ledgerCount = () => countLedgerRows(clickhouse, db, table, tenant);

describe('event pipeline', () => {
  it('round-trips each event type into the ledger and Redis', async () => {
    const events: InteractionEvent[] = [
      {
        type: 'impression',
        eventId: 'rt-imp',
        tenant,
        userId: 'u1',
        itemId: 'shown',
        timestamp: t0,
        context: { surface: 'home' },
        recommendationId: 'rec-1',
        position: 2,
        feedId: 'home',
      },
      {
        type: 'click',
        eventId: 'rt-click',
        tenant,
        userId: 'u1',
        itemId: 'i-click',
        timestamp: t0 + 1,
        context: {},
        recommendationId: 'rec-1',
      },
      {
        type: 'engagement',
        eventId: 'rt-eng',
        tenant,
        userId: 'u1',
        itemId: 'i-eng',
        timestamp: t0 + 2,
        context: {},
        action: 'cart',
        recommendationId: null,
      },
      {
        type: 'conversion',
        eventId: 'rt-conv',
        tenant,
        userId: 'u1',
        itemId: 'i-conv',
        timestamp: t0 + 3,
        context: {},
        value: 19.99,
        recommendationId: null,
      },
    ];
    await producer.send(events);
    await eventually('4 ledger rows', ledgerCount, (n) => n === 4);
    const rs = await clickhouse.query({
      query: `SELECT event_id, event_type, user_id, item_id, ts_ms, recommendation_id, feed_id, position, action, value, context_keys, context_values FROM ${db}.${table} FINAL WHERE tenant = ${sqlString(tenant)} ORDER BY event_id`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<Record<string, unknown>>();
    expect(rows).toEqual([
      {
        event_id: 'rt-click',
        event_type: 'click',
        user_id: 'u1',
        item_id: 'i-click',
        ts_ms: String(t0 + 1),
        recommendation_id: 'rec-1',
        feed_id: null,
        position: null,
        action: null,
        value: null,
        context_keys: [],
        context_values: [],
      },
      {
        event_id: 'rt-conv',
        event_type: 'conversion',
        user_id: 'u1',
        item_id: 'i-conv',
        ts_ms: String(t0 + 3),
        recommendation_id: null,
        feed_id: null,
        position: null,
        action: null,
        value: 19.99,
        context_keys: [],
        context_values: [],
      },
      {
        event_id: 'rt-eng',
        event_type: 'engagement',
        user_id: 'u1',
        item_id: 'i-eng',
        ts_ms: String(t0 + 2),
        recommendation_id: null,
        feed_id: null,
        position: null,
        action: 'cart',
        value: null,
        context_keys: [],
        context_values: [],
      },
      {
        event_id: 'rt-imp',
        event_type: 'impression',
        user_id: 'u1',
        item_id: 'shown',
        ts_ms: String(t0),
        recommendation_id: 'rec-1',
        feed_id: 'home',
        position: 2,
        action: null,
        value: null,
        context_keys: ['surface'],
        context_values: ['home'],
      },
    ]);
    const seen = await eventually(
      'seen set',
      () => redis.zrange(seenKey(tenant, 'u1'), '0', '-1'),
      (s) => s.length === 3,
    );
    expect(seen.sort()).toEqual(['i-click', 'i-conv', 'i-eng']);
    const pop = await redis.zrevrange(popularityKey(tenant), 0, -1);
    expect(pop).toEqual(['i-conv', 'i-eng', 'i-click']); // weights 5 > 3 > 1; impressions do not count
  });

  it('dead-letters a corrupt payload, an unknown schema id and an invalid event while later events flow', async () => {
    const raw = createProducer(kafka);
    await raw.connect();
    const invalid = await registry.encode(producer.schemaIds.click, {
      eventId: 'bad-tenant',
      tenant: 'NOT A TENANT',
      userId: 'u',
      itemId: 'i',
      timestamp: t0,
      recommendationId: null,
      context: {},
    });
    const unknownId = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2, 4, 6]);
    await raw.send({
      topic: config.topics.events,
      messages: [
        { key: 'p1', value: Buffer.from('{"json":"not avro"}') },
        { key: 'p2', value: unknownId },
        { key: 'p3', value: invalid },
      ],
    });
    await raw.disconnect();
    await producer.send([click('after-poison', 'u2', 'i-after')]);

    await eventually('event after the poison', ledgerCount, (n) => n === 5);
    const letters = (await readTopic(config, config.topics.eventsDlq, 3)).map((m) => parseDeadLetter(m.value));
    expect(letters).toHaveLength(3); // once each, from the ledger writer; the popularity processor skips them
    const byKey = new Map(letters.map((l) => [Buffer.from(l.source.key ?? '', 'base64').toString(), l]));
    expect(byKey.get('p1')).toMatchObject({
      stage: 'decode',
      processor: 'ledger-writer',
      schemaId: null,
      source: { topic: config.topics.events },
    });
    expect(byKey.get('p1')!.reason).toContain('magic byte');
    expect(Buffer.from(byKey.get('p1')!.payload!, 'base64').toString()).toBe('{"json":"not avro"}');
    expect(byKey.get('p2')!.reason).toContain(`unknown schema id ${0x7ffffff0}`);
    expect(byKey.get('p3')).toMatchObject({ stage: 'validate', schemaId: producer.schemaIds.click });
    expect(byKey.get('p3')!.reason).toContain('tenant: must match');
    for (const l of letters) expect(l.source.offset).toMatch(/^\d+$/);
  });

  it('keeps one ledger row per event id when the same batch is replayed', async () => {
    const batch = Array.from({ length: 50 }, (_, i) => click(`replay-${i}`, `u${i % 5}`, `item-${i % 7}`, t0 + i));
    await producer.send(batch);
    await producer.send(batch);
    const admin = kafka.admin();
    await admin.connect();
    await waitForCaughtUp(admin, [`test-${config.suffix}-ledger-writer`], config.topics.events, 60_000);
    await admin.disconnect();
    // both copies reached ClickHouse (unless a merge already collapsed them); FINAL shows one row per event id
    const rs = await clickhouse.query({
      query: `SELECT count() AS n, uniqExact(event_id) AS u FROM ${db}.${table} WHERE tenant = ${sqlString(tenant)} AND event_id LIKE 'replay-%'`,
      format: 'JSONEachRow',
    });
    const [{ n, u }] = (await rs.json<{ n: string; u: string }>()) as [{ n: string; u: string }];
    expect(Number(u)).toBe(50);
    expect(Number(n)).toBeGreaterThanOrEqual(50);
    expect(await ledgerCount()).toBe(55);
  });
});
