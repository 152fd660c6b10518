// The item catalogue through real Kafka + registry into ClickHouse and Redis: versions, deletions announced to readers,
// dead letters for bad records, and the new-items retcon trigger on a real BullMQ queue.
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../core/catalog.ts';
import { retconQueue } from '../../jobs/retcon.ts';
import { provision } from '../../apps/provision.ts';
import { createClickHouse, sqlString, type ClickHouseClient } from '../../platform/clickhouse.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { alsCurrentKey, ITEM_UPDATES_CHANNEL } from '../../state/keys.ts';
import { newItemCount, readCatalogItems, readFreshItems, type ItemDeletionAnnouncement } from '../../state/catalog.ts';
import { countCatalogRows } from '../../state/catalog-table.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { parseDeadLetter } from '../../streams/dead-letter.ts';
import { registerEventSchemas } from '../../schemas/event-codec.ts';
import { InvalidItemError, ItemProducer } from '../../streams/item-producer.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { isolatedConfig, logger, readTopic } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const TRIGGER = 5;
const config = isolatedConfig('catalog', {
  QUEUE_PREFIX: `q-catalog-${randomBytes(4).toString('hex')}`,
  RETCON_NEW_ITEMS_TRIGGER: String(TRIGGER),
});
const tenantOf = (name: string) => `${name}-${config.suffix}`.replace(/_/g, '-');
const db = config.clickhouse.database;
const table = config.catalog.table;
const t0 = Date.UTC(2026, 0, 1);

let kafka: Kafka;
let admin: Admin;
let registry: SchemaRegistryClient;
let producer: ItemProducer;
let processors: RunningProcessors;
let clickhouse: ClickHouseClient;
let redis: Redis;
let subscriber: Redis;
const announcements: ItemDeletionAnnouncement[] = [];
const applied: { tenant: string; items: CatalogItem[] }[] = [];

function item(tenant: string, itemId: string, over: Partial<CatalogItem> = {}): CatalogItem {
  return {
    tenant,
    itemId,
    attributes: { genres: ['Comedy', 'Drama'], title: [`title ${itemId}`] },
    numeric: { year: 1995 },
    createdAt: t0,
    updatedAt: t0 + 1000,
    deleted: false,
    ...over,
  };
}

const caughtUp = () => waitForCaughtUp(admin, [`test-${config.suffix}-catalog`], config.topics.items, 60_000);

beforeAll(async () => {
  await provision(config, logger);
  kafka = createKafka(config, logger);
  admin = kafka.admin();
  await admin.connect();
  registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  producer = await ItemProducer.connect(kafka, registry, config.topics.items);
  clickhouse = createClickHouse(config);
  redis = createRedis(config);
  subscriber = createRedis(config);
  subscriber.on('message', (channel: string, message: string) => {
    const m = JSON.parse(message) as Partial<ItemDeletionAnnouncement>;
    if (channel === ITEM_UPDATES_CHANNEL && Array.isArray(m.deleted)) announcements.push(m as ItemDeletionAnnouncement);
  });
  await subscriber.subscribe(ITEM_UPDATES_CHANNEL);
  processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`, {
    onItemsApplied: async (tenant, items) => {
      applied.push({ tenant, items });
    },
  });
});

afterAll(async () => {
  await producer?.disconnect();
  await processors?.stop();
  await admin?.disconnect();
  const queue = retconQueue(config);
  await queue.obliterate({ force: true });
  await queue.close();
  await clickhouse?.close();
  subscriber?.disconnect();
  redis?.disconnect();
});

async function tableRows(tenant: string): Promise<Record<string, unknown>[]> {
  const rs = await clickhouse.query({
    query: `SELECT item_id, attribute_keys, attribute_values, numeric_keys, numeric_values, created_at_ms, updated_at_ms, deleted FROM ${db}.${table} FINAL WHERE tenant = ${sqlString(tenant)} ORDER BY item_id`,
    format: 'JSONEachRow',
  });
  return rs.json<Record<string, unknown>>();
}

describe('item catalogue', () => {
  it('lands valid records in Redis (records, fresh rail) and in ClickHouse (one row per item under FINAL)', async () => {
    const tenant = tenantOf('land');
    const items = [
      item(tenant, 'a', { createdAt: t0 }),
      item(tenant, 'b', { createdAt: t0 + 2000 }),
      item(tenant, 'c', { createdAt: t0 + 1000, attributes: { genres: [] }, numeric: {} }),
    ];
    await producer.send(items);
    await caughtUp();
    await producer.send([{ ...items[0]!, attributes: { genres: ['Horror'] }, updatedAt: t0 + 5000 }]); // a newer version of a
    await caughtUp();

    const stored = await readCatalogItems(redis, tenant, ['a', 'b', 'c', 'unknown']);
    expect(stored.get('a')).toEqual({ ...items[0], attributes: { genres: ['Horror'] }, updatedAt: t0 + 5000 });
    expect(stored.get('b')).toEqual(items[1]);
    expect(stored.get('c')).toEqual(items[2]);
    expect(stored.get('unknown')).toBeNull();
    expect(await readFreshItems(redis, tenant, 10, 0)).toEqual([
      { itemId: 'b', score: t0 + 2000 },
      { itemId: 'c', score: t0 + 1000 },
      { itemId: 'a', score: t0 },
    ]);
    expect(await readFreshItems(redis, tenant, 10, t0 + 500)).toHaveLength(2);

    await eventually(
      '3 items in the table',
      () => countCatalogRows(clickhouse, db, table, tenant),
      (n) => n === 3,
    );
    const raw = await clickhouse.query({
      query: `SELECT count() AS n FROM ${db}.${table} WHERE tenant = ${sqlString(tenant)}`,
      format: 'JSONEachRow',
    });
    expect(Number((await raw.json<{ n: string }>())[0]!.n)).toBeGreaterThanOrEqual(3);
    expect(await tableRows(tenant)).toEqual([
      {
        item_id: 'a',
        attribute_keys: ['genres'],
        attribute_values: ['Horror'],
        numeric_keys: ['year'],
        numeric_values: [1995],
        created_at_ms: String(t0),
        updated_at_ms: String(t0 + 5000),
        deleted: 0,
      },
      {
        item_id: 'b',
        attribute_keys: ['genres', 'genres', 'title'],
        attribute_values: ['Comedy', 'Drama', 'title b'],
        numeric_keys: ['year'],
        numeric_values: [1995],
        created_at_ms: String(t0 + 2000),
        updated_at_ms: String(t0 + 1000),
        deleted: 0,
      },
      {
        item_id: 'c',
        attribute_keys: [],
        attribute_values: [],
        numeric_keys: [],
        numeric_values: [],
        created_at_ms: String(t0 + 1000),
        updated_at_ms: String(t0 + 1000),
        deleted: 0,
      },
    ]);
    // the hook saw every created/updated item of the tenant
    const hooked = applied
      .filter((a) => a.tenant === tenant)
      .flatMap((a) => a.items.map((i) => `${i.itemId}@${i.updatedAt}`));
    expect(hooked.sort()).toEqual(
      ['a@' + (t0 + 1000), 'a@' + (t0 + 5000), 'b@' + (t0 + 1000), 'c@' + (t0 + 1000)].sort(),
    );
  });

  it('ignores a stale re-send (older updatedAt) in Redis and in the table', async () => {
    const tenant = tenantOf('stale');
    const newer = item(tenant, 's', { attributes: { genres: ['New'] }, updatedAt: t0 + 9000 });
    const older = item(tenant, 's', { attributes: { genres: ['Old'] }, updatedAt: t0 + 1000 });
    await producer.send([newer]);
    await caughtUp();
    await producer.send([older]);
    await caughtUp();
    expect((await readCatalogItems(redis, tenant, ['s'])).get('s')).toEqual(newer);
    await eventually(
      'the newer row wins under FINAL',
      () => tableRows(tenant),
      (rows) => rows.length === 1 && (rows[0]!.attribute_values as string[])[0] === 'New',
    );
    expect(applied.filter((a) => a.tenant === tenant).flatMap((a) => a.items)).toEqual([newer]); // the stale one reached no hook
  });

  it('removes a deleted item from the fresh rail and announces it on the item-updates channel', async () => {
    const tenant = tenantOf('del');
    await producer.send([item(tenant, 'keep'), item(tenant, 'gone')]);
    await caughtUp();
    expect((await readFreshItems(redis, tenant, 10, 0)).map((f) => f.itemId).sort()).toEqual(['gone', 'keep']);

    await producer.send([item(tenant, 'gone', { updatedAt: t0 + 2000, deleted: true })]);
    await eventually(
      'the deletion announced',
      async () => announcements.filter((a) => a.tenant === tenant),
      (a) => a.length === 1,
    );
    expect(announcements.filter((a) => a.tenant === tenant)).toEqual([{ tenant, deleted: ['gone'] }]);
    expect((await readFreshItems(redis, tenant, 10, 0)).map((f) => f.itemId)).toEqual(['keep']);
    expect((await readCatalogItems(redis, tenant, ['gone'])).get('gone')).toMatchObject({
      deleted: true,
      updatedAt: t0 + 2000,
    });
    // an older version arriving late does not resurrect it
    await producer.send([item(tenant, 'gone', { updatedAt: t0 + 1500 })]);
    await caughtUp();
    expect((await readFreshItems(redis, tenant, 10, 0)).map((f) => f.itemId)).toEqual(['keep']);
    await eventually(
      'the deletion in the table',
      () => tableRows(tenant),
      (rows) => rows.find((r) => r.item_id === 'gone')?.deleted === 1,
    );
    expect(announcements.filter((a) => a.tenant === tenant)).toHaveLength(1);
  });

  it('dead-letters bad bytes, a foreign schema, an empty itemId and a future createdAt with reasons naming the field', async () => {
    const tenant = tenantOf('dlq');
    await expect(producer.send([item(tenant, '')])).rejects.toThrow(InvalidItemError);
    await expect(producer.send([item(tenant, '')])).rejects.toThrow(/itemId: must not be empty/);

    const clickId = (await registerEventSchemas(registry, config.topics.items)).click;
    const raw = createProducer(kafka);
    await raw.connect();
    const future = Date.now() + 3 * 24 * 3600 * 1000;
    await raw.send({
      topic: config.topics.items,
      messages: [
        { key: 'k-bytes', value: Buffer.from('{"itemId":"not avro"}') },
        {
          key: 'k-click',
          value: await registry.encode(clickId, {
            eventId: 'e',
            tenant,
            userId: 'u',
            itemId: 'i',
            timestamp: t0,
            recommendationId: null,
            context: {},
          }),
        },
        { key: 'k-empty', value: await registry.encode(producer.schemaId, { ...item(tenant, '') }) },
        {
          key: 'k-future',
          value: await registry.encode(producer.schemaId, {
            ...item(tenant, 'f', { createdAt: future, updatedAt: future }),
          }),
        },
      ],
    });
    await raw.disconnect();
    await producer.send([item(tenant, 'after')]);
    await caughtUp();
    expect((await readCatalogItems(redis, tenant, ['after', 'f'])).get('after')).not.toBeNull();
    expect((await readCatalogItems(redis, tenant, ['f'])).get('f')).toBeNull();

    const letters = (await readTopic(config, config.topics.itemsDlq, 4)).map((m) => parseDeadLetter(m.value));
    const byKey = new Map(letters.map((l) => [Buffer.from(l.source.key ?? '', 'base64').toString(), l]));
    expect(letters).toHaveLength(4);
    expect(byKey.get('k-bytes')).toMatchObject({
      stage: 'decode',
      processor: 'catalog',
      source: { topic: config.topics.items },
    });
    expect(byKey.get('k-bytes')!.reason).toContain('magic byte');
    expect(Buffer.from(byKey.get('k-bytes')!.payload!, 'base64').toString()).toBe('{"itemId":"not avro"}');
    expect(byKey.get('k-click')).toMatchObject({ stage: 'decode', schemaId: clickId });
    expect(byKey.get('k-click')!.reason).toContain('not io.rankstream.catalog.Item');
    expect(byKey.get('k-empty')).toMatchObject({ stage: 'validate', schemaId: producer.schemaId });
    expect(byKey.get('k-empty')!.reason).toContain('itemId: must not be empty');
    expect(byKey.get('k-future')).toMatchObject({ stage: 'validate' });
    expect(byKey.get('k-future')!.reason).toContain('createdAt: more than 24 h in the future');
  });

  it('enqueues exactly one retcon job when a tenant with a model crosses the new-items trigger, and none below it or without a model', async () => {
    const tenant = tenantOf('trig');
    const quiet = tenantOf('quiet');
    const modelless = tenantOf('nomodel');
    const queue = retconQueue(config);
    // an index needs a model: the trigger counts only for tenants with a current ALS version
    await redis.set(alsCurrentKey(tenant), 'als-0000000000000000');
    try {
      const jobsOf = async (t: string) =>
        (await queue.getJobs(['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'])).filter(
          (j) => j.data.tenant === t,
        );
      await producer.send([
        ...Array.from({ length: TRIGGER - 1 }, (_, i) => item(tenant, `n${i}`)),
        item(quiet, 'q0'),
        ...Array.from({ length: TRIGGER + 1 }, (_, i) => item(modelless, `m${i}`)),
      ]);
      await caughtUp();
      expect(await newItemCount(redis, tenant)).toBe(TRIGGER - 1);
      expect(await jobsOf(tenant)).toHaveLength(0);

      await producer.send([item(tenant, `n${TRIGGER - 1}`)]); // crosses the trigger
      await caughtUp();
      await producer.send([item(tenant, 'n-more-1'), item(tenant, 'n-more-2')]); // past it, in later batches
      await producer.send([item(tenant, 'n0', { updatedAt: t0 + 7000 })]); // an update is not new
      await caughtUp();
      expect(await newItemCount(redis, tenant)).toBe(TRIGGER + 2);
      const jobs = await jobsOf(tenant);
      expect(jobs).toHaveLength(1);
      expect(jobs[0]!.data).toEqual({ tenant });
      expect(await jobsOf(quiet)).toHaveLength(0);
      expect(await jobsOf(modelless)).toHaveLength(0);
    } finally {
      await queue.close();
    }
  });
});
