// Shared set-up for integration tests: an isolated configuration per test file (own topics, ledger table, tenants,
// consumer groups) against the real services that test/setup/services.ts made reachable.
import { randomBytes } from 'node:crypto';
import type { Admin, Kafka, KafkaMessage } from 'kafkajs';
import type { InteractionEvent } from '../../core/events.ts';
import { loadConfig, type Config } from '../../config/config.ts';
import { isolatedEnv } from './isolated-env.ts';
import { ArtifactStore } from '../../platform/artifact-store.ts';
import { deprovision, provision } from '../../apps/provision.ts';
import { createClickHouse, type ClickHouseClient } from '../../platform/clickhouse.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { AlsModelStore } from '../../state/als-models.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import { EventProducer } from '../../streams/event-producer.ts';
import { createKafka } from '../../streams/kafka.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { eventually } from './wait.ts';

export const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'error', 'test');

const isolatedConfigs: Config[] = [];

/**
 * Removes the topics, schema subjects, consumer groups and tables of every config this test file made (run after the
 * file by test/setup/isolated-cleanup.ts), so local services do not pile up thousands of topics across runs.
 * RANKSTREAM_TEST_KEEP_DATA=1 keeps them for inspection.
 */
export async function removeIsolatedData(): Promise<void> {
  if (process.env.RANKSTREAM_TEST_KEEP_DATA === '1') return;
  for (const config of isolatedConfigs.splice(0)) {
    const report = await deprovision(config, logger).catch((err: unknown) => ({
      error: err instanceof Error ? err.message : String(err),
    }));
    if (Object.values(report).some((v) => !String(v).startsWith('removed')))
      logger.warn({ topics: config.topics.events, report }, 'test data not fully removed');
  }
}

/** A config with its own topics, tables, groups and queues; `env` is what it was loaded from (for a child process). */
export function isolatedConfig(
  name: string,
  overrides: Record<string, string> = {},
): Config & { suffix: string; env: Record<string, string | undefined> } {
  const suffix = `${name}_${randomBytes(4).toString('hex')}`;
  const env = {
    ...process.env,
    ...isolatedEnv('t', suffix),
    TOPIC_PARTITIONS: '2',
    RUNNER_RETRY_BACKOFF_MS: '50',
    HTTP_PORT: '0',
    RATE_LIMIT_PER_S: '0', // tests send far more than a key's default rate; test/integration/security.test.ts turns it on
    ...overrides,
  };
  const config = loadConfig(env);
  isolatedConfigs.push(config);
  return { ...config, suffix, env };
}

/** Reads every message currently on a topic (from the beginning) until `count` arrived or the timeout passes. */
export async function readTopic(
  config: Config,
  topic: string,
  count: number,
  timeoutMs = 30_000,
): Promise<KafkaMessage[]> {
  const kafka = createKafka(config, logger, 'test-reader');
  const consumer = kafka.consumer({ groupId: `test-reader-${randomBytes(4).toString('hex')}` });
  const got: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      got.push(message);
    },
  });
  try {
    await eventually(
      `${count} messages on ${topic}`,
      async () => got.length,
      (n) => n >= count,
      timeoutMs,
    );
  } finally {
    await consumer.disconnect();
  }
  return got;
}

/** Everything a test of the whole pipeline needs: provisioned topics, the processors, a reader and clients. */
export interface Stack {
  kafka: Kafka;
  admin: Admin;
  producer: EventProducer;
  processors: RunningProcessors;
  reader: RunningReader;
  redis: Redis;
  clickhouse: ClickHouseClient;
  models: AlsModelStore;
  artifacts: ArtifactStore;
  /** Waits until the ledger, features and fold-in processors have committed everything on the events topic. */
  caughtUp(): Promise<void>;
  /** Stops everything and drops the test's ledger and catalogue tables. */
  stop(): Promise<void>;
}

/**
 * Produces events to the config's events topic and waits until the named processors of the test's groups
 * (`test-<suffix>-<processor>`, as startStack and the tests start them) have committed them all.
 */
export async function sendEventsAndWait(
  config: Config & { suffix: string },
  kafka: Kafka,
  events: InteractionEvent[],
  processors: readonly string[] = ['features'],
): Promise<void> {
  const producer = await EventProducer.connect(
    kafka,
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.events,
  );
  await producer.send(events);
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitForCaughtUp(
      admin,
      processors.map((p) => `test-${config.suffix}-${p}`),
      config.topics.events,
      60_000,
    );
  } finally {
    await admin.disconnect();
  }
}

export async function startStack(config: Config & { suffix: string }): Promise<Stack> {
  await provision(config, logger);
  const kafka = createKafka(config, logger);
  const admin = kafka.admin();
  await admin.connect();
  const producer = await EventProducer.connect(
    kafka,
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.events,
  );
  const processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
  const reader = await startReader(config, logger, createMetrics(false), {
    groupId: `test-${config.suffix}-reader`,
    port: 0,
  });
  const redis = createRedis(config);
  const clickhouse = createClickHouse(config);
  const artifacts = new ArtifactStore(config.artifactsDir);
  const groups = ['ledger-writer', 'features', 'als-fold-in'].map((p) => `test-${config.suffix}-${p}`);
  return {
    kafka,
    admin,
    producer,
    processors,
    reader,
    redis,
    clickhouse,
    models: new AlsModelStore(redis, artifacts),
    artifacts,
    caughtUp: () => waitForCaughtUp(admin, groups, config.topics.events, 60_000),
    async stop() {
      await producer.disconnect();
      await reader.stop();
      await processors.stop();
      await admin.disconnect();
      await clickhouse.close();
      redis.disconnect();
    },
  };
}
