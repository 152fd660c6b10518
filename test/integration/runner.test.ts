// The consumer runner's delivery guarantees with real Kafka: poison isolation and outage handling.
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../platform/metrics.ts';
import { parseDeadLetter } from '../../streams/dead-letter.ts';
import { runConsumer, type BatchProcessor, type ConsumedRecord } from '../../streams/consumer-runner.ts';
import { DecodeError } from '../../schemas/record-errors.ts';
import { createKafka, ensureTopics, createProducer } from '../../streams/kafka.ts';
import { consumerLag } from '../../streams/offsets.ts';
import { isolatedConfig, logger, readTopic } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const config = isolatedConfig('runner');
let kafka: Kafka;

beforeAll(async () => {
  kafka = createKafka(config, logger);
  await ensureTopics(kafka, [config.topics.events, config.topics.eventsDlq], 1);
});

const decode = async (m: { value: Buffer | null }) => {
  const text = m.value?.toString() ?? '';
  if (!text.startsWith('v:')) throw new DecodeError(`bad prefix in ${JSON.stringify(text)}`, null);
  return { value: text.slice(2), schemaId: null };
};

async function produce(topic: string, values: string[]) {
  const p = createProducer(kafka);
  await p.connect();
  await p.send({ topic, messages: values.map((v) => ({ value: v })) });
  await p.disconnect();
}

describe('consumer runner', () => {
  const stops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const s of stops) await s();
  });

  it('dead-letters a record that fails on its own, with its original bytes, and processes the rest', async () => {
    const topic = `${config.topics.events}.poison`;
    const dlq = `${config.topics.eventsDlq}.poison`;
    await ensureTopics(kafka, [topic, dlq], 1);
    const done: string[] = [];
    const processor: BatchProcessor<string> = {
      name: 'picky',
      async process(records: ConsumedRecord<string>[]) {
        if (records.some((r) => r.value === 'poison')) throw new Error('cannot digest poison');
        done.push(...records.map((r) => r.value));
      },
    };
    await produce(topic, ['v:a', 'v:b', 'v:poison', 'junk', 'v:c']);
    const r = await runConsumer({
      kafka,
      groupId: `g-${config.suffix}-poison`,
      topic,
      dlqTopic: dlq,
      decode,
      processor,
      logger,
      metrics: createMetrics(false),
      maxRetries: 2,
      retryBackoffMs: 20,
    });
    stops.push(() => r.stop());
    await eventually(
      'a, b and c processed',
      async () => [...done].sort(),
      (d) => d.join() === 'a,b,c',
    );
    const letters = (await readTopic(config, dlq, 2)).map((m) => parseDeadLetter(m.value));
    expect(letters.map((l) => [l.stage, Buffer.from(l.payload!, 'base64').toString()]).sort()).toEqual([
      ['decode', 'junk'],
      ['process', 'v:poison'],
    ]);
    expect(letters.find((l) => l.stage === 'process')!.reason).toBe('cannot digest poison');
    const admin = kafka.admin();
    await admin.connect();
    await eventually(
      'committed past the poison',
      () => consumerLag(admin, `g-${config.suffix}-poison`, topic),
      (lag) => lag === 0n,
    );
    await admin.disconnect();
  });

  it('treats a failure of every record as an outage: nothing is dead-lettered or skipped', async () => {
    const topic = `${config.topics.events}.outage`;
    const dlq = `${config.topics.eventsDlq}.outage`;
    await ensureTopics(kafka, [topic, dlq], 1);
    let failuresLeft = 12; // outlasts the runner's own retries and the isolation pass
    const done = new Set<string>();
    const processor: BatchProcessor<string> = {
      name: 'flaky',
      async process(records) {
        if (failuresLeft-- > 0) throw new Error('store unavailable');
        for (const r of records) done.add(r.value);
      },
    };
    await produce(topic, ['v:1', 'v:2', 'v:3']);
    const r = await runConsumer({
      kafka,
      groupId: `g-${config.suffix}-outage`,
      topic,
      dlqTopic: dlq,
      decode,
      processor,
      logger,
      metrics: createMetrics(false),
      maxRetries: 1,
      retryBackoffMs: 20,
    });
    stops.push(() => r.stop());
    await eventually(
      'all records processed after the outage',
      async () => done.size,
      (n) => n === 3,
      90_000,
    );
    const admin = kafka.admin();
    await admin.connect();
    const dlqOffsets = await admin.fetchTopicOffsets(dlq);
    await admin.disconnect();
    expect(dlqOffsets.reduce((s, p) => s + Number(p.high), 0)).toBe(0);
  });

  it('an outage that ends while poison is being isolated: the rest of the batch goes in a few calls, none dead-lettered', async () => {
    // Found by the fault suite: isolation wrote the batch one record per call (a ClickHouse part each) and sent no
    // heartbeat meanwhile, so the ledger writer left its group (session timeout) and the whole batch came again.
    const topic = `${config.topics.events}.recovering`;
    const dlq = `${config.topics.eventsDlq}.recovering`;
    await ensureTopics(kafka, [topic, dlq], 1);
    const values = Array.from({ length: 200 }, (_, i) => `v:${i}`);
    let failuresLeft = 4; // the batch and its retry, then the first two records on their own
    let calls = 0;
    const done = new Set<string>();
    const processor: BatchProcessor<string> = {
      name: 'recovering',
      async process(records) {
        calls++;
        if (failuresLeft-- > 0) throw new Error('store unavailable');
        for (const r of records) done.add(r.value);
      },
    };
    await produce(topic, values);
    const r = await runConsumer({
      kafka,
      groupId: `g-${config.suffix}-recovering`,
      topic,
      dlqTopic: dlq,
      decode,
      processor,
      logger,
      metrics: createMetrics(false),
      maxRetries: 1,
      retryBackoffMs: 20,
    });
    stops.push(() => r.stop());
    await eventually(
      'every record processed',
      async () => done.size,
      (n) => n === values.length,
      60_000,
    );
    // 2 whole-batch attempts, 2 failed singles, ~log2(200) growing slices, the 2 failed records once more
    expect(calls).toBeLessThan(20);
    const admin = kafka.admin();
    await admin.connect();
    await eventually(
      'committed',
      () => consumerLag(admin, `g-${config.suffix}-recovering`, topic),
      (lag) => lag === 0n,
    );
    const dlqOffsets = await admin.fetchTopicOffsets(dlq);
    await admin.disconnect();
    expect(dlqOffsets.reduce((s, p) => s + Number(p.high), 0)).toBe(0);
  });
});
