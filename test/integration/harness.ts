// Shared set-up for integration tests: an isolated configuration per test file (own topics, ledger table, tenants,
// consumer groups) against the real services that test/setup/services.ts made reachable.
import { randomBytes } from 'node:crypto';
import type { KafkaMessage } from 'kafkajs';
import { loadConfig, type Config } from '../../core/config.ts';
import { createLogger } from '../../platform/logger.ts';
import { createKafka } from '../../streams/kafka.ts';

export const logger = createLogger(process.env.TEST_LOG_LEVEL ?? 'error', 'test');

export function isolatedConfig(name: string, overrides: Record<string, string> = {}): Config & { suffix: string } {
  const suffix = `${name}_${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    TOPIC_EVENTS: `t.${suffix}.events`,
    TOPIC_EVENTS_DLQ: `t.${suffix}.events.dlq`,
    TOPIC_FEED_REQUESTS: `t.${suffix}.feed-requests`,
    TOPIC_FEED_REQUESTS_DLQ: `t.${suffix}.feed-requests.dlq`,
    TOPIC_FEEDS: `t.${suffix}.feeds`,
    TOPIC_PARTITIONS: '2',
    LEDGER_TABLE: `ledger_${suffix}`,
    RUNNER_RETRY_BACKOFF_MS: '50',
    HTTP_PORT: '0',
    ...overrides,
  });
  return { ...config, suffix };
}

export async function eventually<T>(what: string, fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await fn();
    if (done(last)) return last;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(last, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Reads every message currently on a topic (from the beginning) until `count` arrived or the timeout passes. */
export async function readTopic(config: Config, topic: string, count: number, timeoutMs = 30_000): Promise<KafkaMessage[]> {
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
    await eventually(`${count} messages on ${topic}`, async () => got.length, (n) => n >= count, timeoutMs);
  } finally {
    await consumer.disconnect();
  }
  return got;
}
