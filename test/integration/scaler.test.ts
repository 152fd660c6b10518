// The scaler processor over real Kafka partitions and Redis, and versions as immutable artifacts on disk.
import { mkdtempSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { emptyStats, observe } from '../../core/features/scaler.ts';
import { ArtifactStore, ChecksumError } from '../../platform/artifact-store.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { ScalerProcessor, ScalerPublisher } from '../../processors/scaler.ts';
import { scalerAccKey } from '../../state/keys.ts';
import { loadScaler } from '../../state/scaler-versions.ts';
import { decodeEvent } from '../../schemas/event-codec.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { runConsumer, type RunningConsumer } from '../../streams/consumer-runner.ts';
import { EventProducer } from '../../streams/event-producer.ts';
import { createKafka, ensureTopics } from '../../streams/kafka.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { isolatedConfig, logger } from '../support/harness.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const config = isolatedConfig('scaler', { TOPIC_PARTITIONS: '3' });
const tenant = `sc-${config.suffix}`.replace(/_/g, '-');
// minDrift well above the sampling noise of the mean shift at these sample sizes (~1/sqrt(1000) = 0.03 std)
const policy = { minSamples: 500, minDrift: 0.15, maxDrift: 3 };
let kafka: Kafka;
let redis: Redis;
let registry: SchemaRegistryClient;
let store: ArtifactStore;
let publisher: ScalerPublisher;
let running: RunningConsumer;
const groupId = `test-${config.suffix}-scaler`;

function conversions(n: number, offset: number, meanPrice: number, seed: number): InteractionEvent[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => ({
    type: 'conversion' as const,
    eventId: `${seed}-${i}`,
    tenant,
    userId: `u${Math.floor(rand() * 300)}`, // many users: spread over all partitions
    itemId: `i${i % 50}`,
    timestamp: Date.UTC(2026, 0, 1) + offset + i,
    context: { price: (meanPrice + (rand() - 0.5) * 20).toFixed(3) },
    value: 1 + rand(),
    recommendationId: null,
  }));
}

beforeAll(async () => {
  kafka = createKafka(config, logger);
  await ensureTopics(kafka, [config.topics.events, config.topics.eventsDlq], 3);
  redis = createRedis(config);
  registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  store = new ArtifactStore(mkdtempSync(join(tmpdir(), 'rankstream-artifacts-')));
  publisher = new ScalerPublisher(redis, store, policy);
  // publishing is driven by the test (interval far away) so decisions are deterministic
  running = await runConsumer({
    kafka,
    groupId,
    topic: config.topics.events,
    dlqTopic: config.topics.eventsDlq,
    decode: (m) => decodeEvent(registry, m),
    processor: new ScalerProcessor(redis, publisher, 3_600_000, logger),
    logger,
    metrics: createMetrics(false),
    maxRetries: 2,
    retryBackoffMs: 20,
  });
});

afterAll(async () => {
  await running?.stop();
  redis?.disconnect();
});

async function produce(events: InteractionEvent[]) {
  const producer = await EventProducer.connect(kafka, registry, config.topics.events);
  await producer.send(events);
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await waitForCaughtUp(admin, [groupId], config.topics.events, 60_000);
  await admin.disconnect();
}

describe('scaler', () => {
  it('merges per-partition accumulators into the statistics of a single pass', async () => {
    const events = conversions(2000, 0, 100, 1);
    await produce(events);
    const partitions = Object.keys(await redis.hgetall(scalerAccKey(tenant)));
    expect(partitions.length).toBeGreaterThan(1); // really merged across partitions
    const single = emptyStats();
    for (const e of events) observe(single, Number(e.context.price));
    const { snapshot } = await publisher.candidate(tenant);
    expect(snapshot.features['ctx.price']!.count).toBe(2000);
    expect(snapshot.features['ctx.price']!.mean).toBeCloseTo(single.mean, 9);
    expect(snapshot.features['ctx.price']!.std).toBeCloseTo(Math.sqrt(single.m2 / single.count), 9);
    expect(snapshot.features.value!.count).toBe(2000);
  });

  it('promotes a first version as an immutable artifact that loads by version', async () => {
    const { decision, manifest } = await publisher.publish(tenant);
    expect(decision).toMatchObject({ promote: true, reason: 'first-version', samples: 2000 });
    expect(manifest!.version).toMatch(/^scaler-[0-9a-f]{16}$/);
    expect(await redis.get(`rs:{${tenant}}:scaler:current`)).toBe(manifest!.version);
    const loaded = await loadScaler(store, manifest!.version);
    expect(loaded.tenant).toBe(tenant);
    expect(loaded.features['ctx.price']!.mean).toBeCloseTo(100, 0);
  });

  it('holds a candidate without enough samples, then one that did not move, and promotes a real shift with its drift', async () => {
    await produce(conversions(100, 10_000, 100, 2));
    expect((await publisher.publish(tenant)).decision).toMatchObject({
      promote: false,
      reason: 'insufficient-samples',
    });

    await produce(conversions(1000, 20_000, 100, 3));
    const same = await publisher.publish(tenant);
    expect(same.decision).toMatchObject({ promote: false, reason: 'no-material-change' });
    expect(same.decision.drift!.max).toBeLessThan(0.15);

    await produce(conversions(5000, 30_000, 106, 4)); // the price centre moves ~1 standard deviation
    const shifted = await publisher.publish(tenant);
    expect(shifted.decision).toMatchObject({ promote: true, reason: 'drift-within-bounds' });
    expect(shifted.decision.drift!.features['ctx.price']!.meanShift).toBeGreaterThan(0.2);
    expect(shifted.manifest!.meta.parent).toMatch(/^scaler-/);
    expect((await store.list('scaler')).length).toBe(2);
  });

  it('refuses an artifact whose bytes no longer match its checksum', async () => {
    const [first] = await store.list('scaler');
    const dir = join(store.root, 'scaler');
    expect((await readdir(dir)).includes(first!.file)).toBe(true);
    await writeFile(join(dir, first!.file), '{"tampered":true}');
    await expect(loadScaler(store, first!.version)).rejects.toBeInstanceOf(ChecksumError);
  });
});
