// The consumer runner every processor uses, shaped like Kafka Streams' Processor API:
//   fetch batch -> decode (bad bytes -> dead letter) -> process (side effects, bounded retries)
//   -> dead letters published -> commit.
// Offsets are committed only after side effects and dead letters are durable, so delivery is at-least-once and
// processors make their side effects idempotent. A poison message is isolated and dead-lettered; it never stops
// its partition. An outage (every record fails) is not the records' fault: nothing is committed or dead-lettered,
// the batch is retried by kafkajs and, after its retries, the consumer restarts from the last commit.
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { DecodeError, RecordRejectedError, ValidationError } from '../schemas/record-errors.ts';
import { deadLetter, publishDeadLetters, type DeadLetter } from './dead-letter.ts';
import { createProducer } from './kafka.ts';

export interface ConsumedRecord<T> {
  value: T;
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  /** The original bytes, kept so a record that fails in processing is dead-lettered intact. */
  raw: Buffer | null;
  schemaId: number | null;
}

/** Turns bytes into a typed value. Throws DecodeError (or ValidationError) for bad input; anything else is an outage. */
export type RecordDecoder<T> = (message: KafkaMessage) => Promise<{ value: T; schemaId: number | null }>;

export interface BatchProcessor<T> {
  readonly name: string;
  /** Applies the batch's side effects. Must be idempotent: a batch can be delivered again after a crash. */
  process(records: ConsumedRecord<T>[]): Promise<void>;
}

export interface RunnerOptions<T> {
  kafka: Kafka;
  groupId: string;
  topic: string;
  dlqTopic: string;
  decode: RecordDecoder<T>;
  processor: BatchProcessor<T>;
  logger: Logger;
  metrics: Metrics;
  maxRetries: number;
  retryBackoffMs: number;
  fromBeginning?: boolean;
  /**
   * What to do with a message that cannot be decoded or validated. Several processors read the events topic; one
   * of them (the ledger writer, the system of record) dead-letters such messages, the others skip them, so each bad
   * message is in the dead-letter topic exactly once.
   */
  undecodable?: 'dead-letter' | 'skip';
  /** Shared producer for dead letters; one is created when absent. */
  producer?: Producer;
}

export interface RunningConsumer {
  consumer: Consumer;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * How kafkajs retries a batch whose side effects failed for every record (an outage) and restarts a crashed consumer:
 * backoff from 300 ms doubling up to 5 s, 10 tries (about 40 s), then a restart (leave, rejoin, resume from the last
 * commit) at most 5 s later. kafkajs' default caps the backoff at 30 s, as long as the session timeout, and nothing
 * heartbeats while it waits: a consumer could sit idle that long after a dependency or the broker came back, and lose
 * its group membership meanwhile (the fault suite's logs showed "Restarting the consumer in 30000ms").
 */
export const CONSUMER_RETRY = { initialRetryTime: 300, maxRetryTime: 5_000, retries: 10 } as const;

/** Runs the side effects with bounded retries and exponential backoff; rethrows the last error. */
async function withRetries(
  attempts: number,
  backoffMs: number,
  onRetry: (err: unknown, attempt: number) => Promise<void>,
  fn: () => Promise<void>,
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RecordRejectedError || attempt >= attempts) throw err;
      await onRetry(err, attempt + 1);
      await sleep(backoffMs * 2 ** attempt);
    }
  }
}

/** What a consumer's batch handling works with. */
interface BatchContext<T> {
  /** The runner's options (topic, decoder, processor, retries, dead-letter topic, metrics). */
  opts: RunnerOptions<T>;
  /** The processor's logger, bound to its name and topic. */
  log: Logger;
  /** Where dead letters are published. */
  producer: Producer;
}

/**
 * Subscribes the processor's consumer group to the topic and runs it: one batch at a time per consumer, offsets resolved
 * and committed by the batch handler only (never automatically).
 */
export async function runConsumer<T>(opts: RunnerOptions<T>): Promise<RunningConsumer> {
  const log = opts.logger.child({ processor: opts.processor.name, topic: opts.topic });
  const ownsProducer = !opts.producer;
  const producer = opts.producer ?? createProducer(opts.kafka);
  if (ownsProducer) await producer.connect();
  const { consumer, lifecycle } = await connectConsumer(opts);
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 1,
    eachBatch: batchHandler({ opts, log, producer }),
  });
  log.info({ groupId: opts.groupId }, 'consumer running');

  return {
    consumer,
    async stop() {
      lifecycle.stopping = true;
      await consumer.disconnect();
      if (ownsProducer) await producer.disconnect();
    },
  };
}

/** The group's consumer, connected and subscribed; a stop is a crash unless stop() was called (lifecycle.stopping). */
async function connectConsumer<T>(
  opts: RunnerOptions<T>,
): Promise<{ consumer: Consumer; lifecycle: { stopping: boolean } }> {
  const consumer = opts.kafka.consumer({
    groupId: opts.groupId,
    allowAutoTopicCreation: false,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    retry: CONSUMER_RETRY,
  });
  // readiness and lag: the process's tracker follows this consumer's group membership
  const tracked = opts.metrics.consumers.track(opts.groupId, opts.topic);
  consumer.on(consumer.events.GROUP_JOIN, (e) => tracked.joined(e.payload.memberAssignment[opts.topic] ?? []));
  const lifecycle = { stopping: false };
  consumer.on(consumer.events.CRASH, (e) =>
    tracked.crashed(e.payload.restart ? e.payload.error.message : `${e.payload.error.message}; not restarting`),
  );
  consumer.on(consumer.events.STOP, () =>
    lifecycle.stopping ? tracked.stopped() : tracked.crashed('stopped without stop()'),
  );
  await consumer.connect();
  await consumer.subscribe({ topic: opts.topic, fromBeginning: opts.fromBeginning ?? true });
  return { consumer, lifecycle };
}

/** kafkajs' eachBatch: a non-empty batch is processed, counted in flight meanwhile. */
function batchHandler<T>(ctx: BatchContext<T>): (payload: EachBatchPayload) => Promise<void> {
  const { metrics, processor } = ctx.opts;
  return async (payload) => {
    if (payload.batch.messages.length === 0) return;
    metrics.batchesInFlight.inc({ processor: processor.name });
    try {
      await processBatch(ctx, payload);
    } finally {
      metrics.batchesInFlight.dec({ processor: processor.name });
    }
  };
}

/** One batch: decode -> side effects (poison isolated) -> dead letters durable -> commit. */
async function processBatch<T>(ctx: BatchContext<T>, payload: EachBatchPayload): Promise<void> {
  const { opts, log, producer } = ctx;
  const { metrics, processor } = opts;
  const { batch, heartbeat } = payload;
  const endTimer = metrics.batchSeconds.startTimer({ processor: processor.name });

  // 1. decode: a message that cannot be decoded or validated is dead-lettered, never retried
  const { good, letters } = await decodeBatch(opts, batch);

  // 2. side effects, with bounded retries; on persistent failure isolate the poison records
  const onRetry = async (err: unknown, attempt: number) => {
    metrics.batchRetries.inc({ processor: processor.name });
    log.warn({ err, attempt, partition: batch.partition }, 'side effects failed; retrying');
    await heartbeat();
  };
  if (good.length > 0) {
    try {
      await withRetries(opts.maxRetries, opts.retryBackoffMs, onRetry, () => processor.process(good));
    } catch (batchErr) {
      letters.push(...(await isolatePoison(ctx, good, batchErr, heartbeat)));
    }
  }

  // 3. dead letters durable before the commit
  await publishDeadLetters(producer, opts.dlqTopic, letters);
  for (const l of letters) metrics.deadLettered.inc({ processor: processor.name, topic: batch.topic, stage: l.stage });

  if (!(await commitBatch(payload))) return;
  metrics.consumed.inc({ processor: processor.name, topic: batch.topic }, batch.messages.length);
  await heartbeat();
  endTimer();
}

/** The batch's decodable records, and dead letters for the rest (unless such messages are skipped). */
async function decodeBatch<T>(
  opts: RunnerOptions<T>,
  batch: EachBatchPayload['batch'],
): Promise<{ good: ConsumedRecord<T>[]; letters: DeadLetter[] }> {
  const { metrics, processor } = opts;
  const letters: DeadLetter[] = [];
  const good: ConsumedRecord<T>[] = [];
  const source = (m: KafkaMessage) => ({
    topic: batch.topic,
    partition: batch.partition,
    offset: m.offset,
    timestamp: m.timestamp,
    key: m.key,
    value: m.value,
  });
  for (const m of batch.messages) {
    try {
      const { value, schemaId } = await opts.decode(m);
      good.push({
        value,
        topic: batch.topic,
        partition: batch.partition,
        offset: m.offset,
        timestamp: m.timestamp,
        key: m.key,
        raw: m.value,
        schemaId,
      });
    } catch (err) {
      if ((err instanceof DecodeError || err instanceof ValidationError) && opts.undecodable === 'skip') {
        metrics.skipped.inc({ processor: processor.name, topic: batch.topic });
        continue;
      }
      if (err instanceof DecodeError)
        letters.push(deadLetter(source(m), processor.name, 'decode', err.message, err.schemaId));
      else if (err instanceof ValidationError)
        letters.push(deadLetter(source(m), processor.name, 'validate', err.message, err.schemaId));
      else throw err; // e.g. registry unreachable: retry the batch later
    }
  }
  return { good, letters };
}

/**
 * 4. commit; false for a stale batch (its partition was sought elsewhere), which is not committed. Also while stopping
 * (isRunning() is false from the moment stop() is called, but the member stays in its group until the batch in flight
 * returns), so a graceful shutdown commits the batch it finished.
 */
async function commitBatch({
  batch,
  resolveOffset,
  commitOffsetsIfNecessary,
  isStale,
}: EachBatchPayload): Promise<boolean> {
  if (isStale()) return false;
  const last = batch.messages[batch.messages.length - 1]!;
  resolveOffset(last.offset); // advances the fetch position; the commit below makes it durable
  await commitOffsetsIfNecessary({
    topics: [
      {
        topic: batch.topic,
        partitions: [{ partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }],
      },
    ],
  });
  return true;
}

/**
 * Finds the records that fail on their own. Starts with one record at a time and doubles the slice after each
 * success (halving it after a failure), so the healthy rest of a batch goes in a few calls: one call per record
 * would make an outage that ends during the isolation cost one write per record (a ClickHouse part each, for the
 * ledger) and keep the consumer from its group for longer than the session timeout. Heartbeats between calls. If
 * every record fails it is an outage and the original error propagates. Records that fail while others succeed get
 * the full retry budget once more (an outage may have ended meanwhile); those that still fail, and those the
 * processor rejects outright, are poison.
 */
async function isolatePoison<T>(
  ctx: BatchContext<T>,
  records: ConsumedRecord<T>[],
  batchErr: unknown,
  heartbeat: () => Promise<void>,
): Promise<DeadLetter[]> {
  const { opts, log } = ctx;
  const { processor } = opts;
  if (records.length === 1 && !(batchErr instanceof RecordRejectedError)) throw batchErr;
  const failed = await failingAlone(processor, records, heartbeat);
  if (failed.length === records.length && !failed.every((f) => f.err instanceof RecordRejectedError)) throw batchErr;
  const poison: typeof failed = [];
  for (const f of failed) {
    if (f.err instanceof RecordRejectedError) {
      poison.push(f);
      continue;
    }
    await heartbeat();
    try {
      await withRetries(opts.maxRetries, opts.retryBackoffMs, heartbeat, () => processor.process([f.record]));
    } catch (err) {
      poison.push({ record: f.record, err });
    }
  }
  if (poison.length > 0)
    log.error({ poison: poison.length, batch: records.length }, 'dead-lettering records that fail on their own');
  return poison.map(({ record, err }) =>
    deadLetter(
      {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        key: record.key,
        value: record.raw,
      },
      processor.name,
      'process',
      err instanceof Error ? err.message : String(err),
      record.schemaId,
    ),
  );
}

/** The records that fail when processed alone, found by slices that double after a success and halve after a failure. */
async function failingAlone<T>(
  processor: BatchProcessor<T>,
  records: ConsumedRecord<T>[],
  heartbeat: () => Promise<void>,
): Promise<{ record: ConsumedRecord<T>; err: unknown }[]> {
  const failed: { record: ConsumedRecord<T>; err: unknown }[] = [];
  for (let i = 0, size = 1; i < records.length;) {
    const slice = records.slice(i, i + size);
    await heartbeat();
    try {
      await processor.process(slice);
      i += slice.length;
      size *= 2;
    } catch (err) {
      if (slice.length > 1) {
        size = slice.length >>> 1; // the failure is in there: look at its halves
        continue;
      }
      failed.push({ record: slice[0]!, err });
      i += 1;
    }
  }
  return failed;
}
