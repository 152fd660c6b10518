// Real-time features through real Kafka and Redis: values, read-after-write, and exactly-once effects across a crash
// after side effects (same process) and a kill -9 of the processor process mid-stream.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../config/config.ts';
import type { InteractionEvent } from '../../core/events.ts';
import { decayParams, forwardWeight } from '../../core/features/popularity.ts';
import { windowCounts } from '../../core/features/session-features.ts';
import { provision } from '../../apps/provision.ts';
import { createClickHouse } from '../../platform/clickhouse.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { FeaturesProcessor } from '../../processors/features.ts';
import {
  itemCountersKey,
  popularityKey,
  popularityMetaKey,
  tenantCountersKey,
  userCountersKey,
} from '../../state/keys.ts';
import { countLedgerRows } from '../../state/ledger.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { decodeEvent } from '../../schemas/event-codec.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import type { ItemFeatures, UserFeatures } from '../../serving/feature-service.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import { runConsumer, type BatchProcessor } from '../../streams/consumer-runner.ts';
import { EventProducer } from '../../streams/event-producer.ts';
import { createKafka, ensureTopics } from '../../streams/kafka.ts';
import { consumerLag, waitForCaughtUp } from '../../streams/offsets.ts';
import { isolatedConfig, logger } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const t0 = Date.UTC(2026, 5, 1, 12);
const tenantOf = (config: Config & { suffix: string }, name: string) => `${name}-${config.suffix}`.replace(/_/g, '-');

/** A seeded stream: mostly impressions, some clicks, few engagements and conversions, over two hours. */
function generate(tenant: string, n: number, seed: number): InteractionEvent[] {
  const rand = seededRandom(seed);
  const out: InteractionEvent[] = [];
  for (let i = 0; i < n; i++) {
    const base = {
      eventId: `${tenant}-${i}`,
      tenant,
      userId: `u${Math.floor(rand() * 200)}`,
      itemId: `i${Math.floor(rand() ** 2 * 500)}`,
      timestamp: t0 + Math.floor((i / n) * 2 * 3_600_000),
      context: { category: `c${Math.floor(rand() * 10)}` },
    };
    const r = rand();
    if (r < 0.7)
      out.push({ ...base, type: 'impression', recommendationId: `rec-${i}`, position: i % 10, feedId: 'home' });
    else if (r < 0.95) out.push({ ...base, type: 'click', recommendationId: null });
    else if (r < 0.98) out.push({ ...base, type: 'engagement', action: 'cart', recommendationId: null });
    else out.push({ ...base, type: 'conversion', value: 10, recommendationId: null });
  }
  return out;
}

/** Checks every counter and score in Redis against a recomputation from the events (exact counts). */
async function expectStateMatches(
  redis: Redis,
  config: Config,
  tenant: string,
  events: InteractionEvent[],
): Promise<void> {
  const now = Math.max(...events.map((e) => e.timestamp));
  const all = windowCounts(await redis.hgetall(tenantCountersKey(tenant)), now);
  const count = (pred: (e: InteractionEvent) => boolean) => events.filter(pred).length;
  expect(all['7d']).toEqual({
    impression: count((e) => e.type === 'impression'),
    click: count((e) => e.type === 'click'),
    engagement: count((e) => e.type === 'engagement'),
    conversion: count((e) => e.type === 'conversion'),
  });
  for (const item of ['i0', 'i1', 'i7', 'i42']) {
    const c = windowCounts(await redis.hgetall(itemCountersKey(tenant, item)), now);
    expect(c['24h'].click).toBe(count((e) => e.itemId === item && e.type === 'click'));
    expect(c['24h'].impression).toBe(count((e) => e.itemId === item && e.type === 'impression'));
  }
  for (const user of ['u0', 'u13']) {
    const c = windowCounts(await redis.hgetall(userCountersKey(tenant, user)), now);
    expect(c['7d'].click).toBe(count((e) => e.userId === user && e.type === 'click'));
  }
  const epoch = Number(await redis.hget(popularityMetaKey(tenant), 'epochMs'));
  const params = decayParams(config.features.halfLifeS, config.features.trendingHalfLifeS);
  for (const item of ['i0', 'i3']) {
    const expected = events
      .filter((e) => e.itemId === item)
      .reduce((s, e) => s + forwardWeight(params.weights[e.type], e.timestamp, epoch, params.longHalfLifeMs), 0);
    expect(Number(await redis.zscore(popularityKey(tenant), item))).toBeCloseTo(expected, 6);
  }
}

describe('features in process', () => {
  const config = isolatedConfig('features');
  const tenant = tenantOf(config, 'feat');
  let kafka: Kafka;
  let registry: SchemaRegistryClient;
  let producer: EventProducer;
  let processors: RunningProcessors;
  let reader: RunningReader;
  let redis: Redis;
  let admin: Admin;
  const groups = [`test-${config.suffix}-features`];

  beforeAll(async () => {
    await provision(config, logger);
    kafka = createKafka(config, logger);
    registry = new SchemaRegistryClient(config.schemaRegistryUrl);
    producer = await EventProducer.connect(kafka, registry, config.topics.events);
    processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
    reader = await startReader(config, logger, createMetrics(false), {
      groupId: `test-${config.suffix}-reader`,
      port: 0,
    });
    redis = createRedis(config);
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await producer?.disconnect();
    await reader?.stop();
    await processors?.stop();
    redis?.disconnect();
  });

  it('turns events into session, recent-item, windowed-count and rate features', async () => {
    const ev = (i: number, type: 'impression' | 'click', item: string, minutes: number): InteractionEvent =>
      type === 'impression'
        ? {
            type,
            eventId: `f-${i}`,
            tenant,
            userId: 'alice',
            itemId: item,
            timestamp: t0 + minutes * 60_000,
            context: { category: 'books' },
            recommendationId: 'r1',
            position: i,
            feedId: 'home',
          }
        : {
            type,
            eventId: `f-${i}`,
            tenant,
            userId: 'alice',
            itemId: item,
            timestamp: t0 + minutes * 60_000,
            context: { category: 'books' },
            recommendationId: 'r1',
          };
    // session 1: minutes 0-10; 45 idle minutes; session 2: minutes 55-60
    await producer.send([
      ev(1, 'impression', 'b1', 0),
      ev(2, 'impression', 'b2', 0),
      ev(3, 'click', 'b1', 1),
      ev(4, 'click', 'b2', 10),
      ev(5, 'impression', 'b3', 55),
      ev(6, 'click', 'b3', 60),
    ]);
    await waitForCaughtUp(admin, groups, config.topics.events, 60_000);

    const user = (await (await fetch(`${reader.url}/v1/users/alice/features?tenant=${tenant}`)).json()) as UserFeatures;
    expect(user.session).toMatchObject({
      startMs: t0 + 55 * 60_000,
      lastMs: t0 + 60 * 60_000,
      durationMs: 5 * 60_000,
      events: 2,
      counts: { impression: 1, click: 1 },
      items: ['b3'],
    });
    expect(user.recentItems).toEqual(['b3', 'b2', 'b1']);
    expect(user.windows['1h']).toMatchObject({ impression: 1, click: 2 }); // as of minute 60: the 5-minute buckets from minute 5 on
    expect(user.windows['24h']).toMatchObject({ impression: 3, click: 3 });
    expect(user.ctr['24h']).toBeGreaterThan(user.ctr['1h'] - 1); // smoothed, finite
    expect(user.ctr['24h']).toBeLessThan(1);

    const item = (await (
      await fetch(`${reader.url}/v1/items/b1/features?tenant=${tenant}&category=books`)
    ).json()) as ItemFeatures;
    expect(item.windows['24h']).toMatchObject({ impression: 1, click: 1 });
    // CTR 1/1 is shrunk toward the tenant-wide rate (3 clicks / 3 impressions here, so the prior is ~1 as well)
    expect(item.ctr['24h']).toBeGreaterThan(0.5);
    expect(item.categoryCtr7d).toBeGreaterThan(0);
    expect(item.popularity).toBeGreaterThan(0);
    expect((await fetch(`${reader.url}/v1/users/alice/features?tenant=nope`)).status).toBe(404);
  });

  it('shows a committed event to the next feed request (read-after-write)', async () => {
    await producer.send([
      {
        type: 'click',
        eventId: 'raw-0',
        tenant,
        userId: 'bob',
        itemId: 'b1',
        timestamp: t0 + 61 * 60_000,
        context: {},
        recommendationId: null,
      },
    ]);
    await waitForCaughtUp(admin, groups, config.topics.events, 60_000);
    const before = (await (await fetch(`${reader.url}/v1/feeds/bob?tenant=${tenant}&k=10`)).json()) as {
      items: { itemId: string }[];
    };
    expect(before.items.map((i) => i.itemId)).not.toContain('b1');
    expect(before.items.map((i) => i.itemId)).toContain('b2');

    await producer.send([
      {
        type: 'click',
        eventId: 'raw-1',
        tenant,
        userId: 'bob',
        itemId: 'b2',
        timestamp: t0 + 62 * 60_000,
        context: {},
        recommendationId: null,
      },
    ]);
    await waitForCaughtUp(admin, groups, config.topics.events, 60_000); // committed => applied
    const after = (await (await fetch(`${reader.url}/v1/feeds/bob?tenant=${tenant}&k=10`)).json()) as {
      items: { itemId: string }[];
    };
    expect(after.items.map((i) => i.itemId)).not.toContain('b2');
  });

  it('does not double count a batch re-delivered after its side effects were applied', async () => {
    const crashTenant = tenantOf(config, 'crash');
    const topic = `${config.topics.events}.crash`;
    await ensureTopics(kafka, [topic], 1);
    const events = generate(crashTenant, 3000, 11);
    const p = await EventProducer.connect(kafka, registry, topic);
    await p.send(events);
    await p.disconnect();
    const f = config.features;
    const inner = new FeaturesProcessor(redis, decayParams(f.halfLifeS, f.trendingHalfLifeS), f);
    let crashes = 0;
    // Applies the batch, then fails before the commit, once per batch: the runner must deliver it again.
    const crashing: BatchProcessor<InteractionEvent> = {
      name: 'features-crash',
      async process(records) {
        await inner.process(records);
        if (crashes++ % 2 === 0) throw new Error('crash after side effects, before commit');
      },
    };
    const running = await runConsumer({
      kafka,
      groupId: `test-${config.suffix}-crash`,
      topic,
      dlqTopic: config.topics.eventsDlq,
      decode: (m) => decodeEvent(registry, m),
      processor: crashing,
      logger,
      metrics: createMetrics(false),
      maxRetries: 3,
      retryBackoffMs: 10,
    });
    try {
      await eventually(
        'crash topic consumed',
        () => consumerLag(admin, `test-${config.suffix}-crash`, topic),
        (lag) => lag === 0n,
        90_000,
      );
    } finally {
      await running.stop();
    }
    expect(crashes).toBeGreaterThan(1);
    expect(inner.applied).toBe(events.length); // re-deliveries applied nothing
    await expectStateMatches(redis, config, crashTenant, events);
  });
});

describe('processor process killed with SIGKILL mid-stream', () => {
  const config = isolatedConfig('kill', { CONSUMER_GROUP_PREFIX: `kill-${Date.now()}` });
  const tenant = tenantOf(config, 'kill');
  let child: ChildProcess | undefined;
  const env = { ...config.env, RANKSTREAM_LOG_LEVEL: 'warn', PROCESSOR_HTTP_PORT: '0' };
  const startChild = () =>
    spawn(process.execPath, ['--import', 'tsx', 'cli/process.ts'], { env, stdio: ['ignore', 'ignore', 'inherit'] });

  afterAll(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('restarts with counters equal to a recomputation from the events and one ledger row per event', async () => {
    await provision(config, logger);
    const kafka = createKafka(config, logger);
    const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
    const events = generate(tenant, 40_000, 5);
    const producer = await EventProducer.connect(kafka, registry, config.topics.events);
    for (let i = 0; i < events.length; i += 5000) await producer.send(events.slice(i, i + 5000));
    await producer.disconnect();

    const admin = kafka.admin();
    await admin.connect();
    const groups = ['ledger-writer', 'features'].map((p) => `${config.runner.groupPrefix}-${p}`);
    const total = BigInt(events.length);
    child = startChild();
    // kill -9 once the features processor has committed some, but not all, of the stream
    await eventually(
      'features partly committed',
      () => consumerLag(admin, groups[1]!, config.topics.events),
      (lag) => lag < total && lag > 0n,
      120_000,
    );
    child.kill('SIGKILL');
    await new Promise((r) => child!.once('exit', r));
    const lagAtKill = await consumerLag(admin, groups[1]!, config.topics.events);
    expect(lagAtKill).toBeGreaterThan(0n);

    child = startChild();
    await waitForCaughtUp(admin, groups, config.topics.events, 180_000);
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
    await admin.disconnect();

    const redis = createRedis(config);
    const clickhouse = createClickHouse(config);
    try {
      await expectStateMatches(redis, config, tenant, events);
      expect(await countLedgerRows(clickhouse, config.clickhouse.database, config.ledger.table, tenant)).toBe(
        events.length,
      );
    } finally {
      await clickhouse.close();
      redis.disconnect();
    }
  });
});
