// The dead-letter record: what failed, why, where it came from, and the original bytes, so nothing is lost
// and a fixed consumer can replay it.
//
// A dead letter must itself fit in a Kafka record (the broker's message.max.bytes, 1 MiB by default, per record batch):
// a letter the broker refuses would fail the batch again and again and stop the partition. So the payload is kept whole
// up to MAX_LETTER_PAYLOAD_BYTES (base64 inflates it by a third) and otherwise cut to its first
// TRUNCATED_PAYLOAD_BYTES, with its size and sha256 (the whole record stays on the source topic, at source
// topic/partition/offset, for its retention); reasons and keys are bounded too; and letters are published in sends of
// at most MAX_SEND_BYTES.
import { createHash } from 'node:crypto';
import type { Message, Producer } from 'kafkajs';

export type FailureStage = 'decode' | 'validate' | 'process';

export interface DeadLetter {
  reason: string;
  stage: FailureStage;
  processor: string;
  schemaId: number | null;
  failedAt: string;
  source: { topic: string; partition: number; offset: string; timestamp: string; key: string | null };
  /** Original message value, base64 (its first TRUNCATED_PAYLOAD_BYTES when payloadTruncated). */
  payload: string | null;
  /** Size of the original value, bytes. */
  payloadBytes?: number;
  /** Set when the value was too large to keep whole: fetch it from the source coordinates. */
  payloadTruncated?: boolean;
  /** sha256 (hex) of the whole original value, when truncated. */
  payloadSha256?: string;
}

export const MAX_LETTER_PAYLOAD_BYTES = 512 * 1024;
export const TRUNCATED_PAYLOAD_BYTES = 64 * 1024;
export const MAX_REASON_CHARS = 8 * 1024;
export const MAX_LETTER_KEY_BYTES = 16 * 1024;
export const MAX_SEND_BYTES = 512 * 1024;

function bounded(reason: string): string {
  return reason.length <= MAX_REASON_CHARS
    ? reason
    : `${reason.slice(0, MAX_REASON_CHARS)}… (${reason.length - MAX_REASON_CHARS} more characters)`;
}

export interface FailedMessage {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
}

export function deadLetter(
  msg: FailedMessage,
  processor: string,
  stage: FailureStage,
  reason: string,
  schemaId: number | null,
  now = new Date(),
): DeadLetter {
  const value = msg.value;
  const truncated = value !== null && value.length > MAX_LETTER_PAYLOAD_BYTES;
  const key = msg.key && msg.key.length > MAX_LETTER_KEY_BYTES ? msg.key.subarray(0, MAX_LETTER_KEY_BYTES) : msg.key;
  return {
    reason: bounded(reason),
    stage,
    processor,
    schemaId,
    failedAt: now.toISOString(),
    source: {
      topic: msg.topic,
      partition: msg.partition,
      offset: msg.offset,
      timestamp: msg.timestamp,
      key: key ? key.toString('base64') : null,
    },
    payload: value ? (truncated ? value.subarray(0, TRUNCATED_PAYLOAD_BYTES) : value).toString('base64') : null,
    ...(value ? { payloadBytes: value.length } : {}),
    ...(truncated ? { payloadTruncated: true, payloadSha256: createHash('sha256').update(value).digest('hex') } : {}),
  };
}

/** Publishes dead letters (acks=all); the caller commits the source offsets only after this resolves. */
export async function publishDeadLetters(producer: Producer, topic: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  const messages = letters.map((l) => ({
    key: l.source.key ? Buffer.from(l.source.key, 'base64') : null,
    value: JSON.stringify(l),
    headers: {
      'rankstream.dlq.reason': l.reason.slice(0, 1000),
      'rankstream.dlq.stage': l.stage,
      'rankstream.dlq.source': `${l.source.topic}/${l.source.partition}/${l.source.offset}`,
    },
  }));
  await sendInChunks(producer, topic, messages, MAX_SEND_BYTES);
}

/** Approximate bytes a message adds to a produce request. */
export function messageBytes(m: Message): number {
  const size = (v: Buffer | string | null | undefined) =>
    v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length;
  let n = 64 + size(m.key) + size(m.value);
  for (const [k, v] of Object.entries(m.headers ?? {}))
    n += k.length + (Array.isArray(v) ? v.reduce((s: number, x) => s + size(x), 0) : size(v));
  return n;
}

/**
 * Sends messages (acks=all, in order) in consecutive sends of at most maxBytes each (a message larger than that goes
 * alone): the broker limits a record batch, and one send puts every message for a partition in one batch.
 */
export async function sendInChunks(
  producer: Producer,
  topic: string,
  messages: Message[],
  maxBytes: number,
): Promise<void> {
  let chunk: Message[] = [];
  let bytes = 0;
  for (const m of messages) {
    const b = messageBytes(m);
    if (chunk.length > 0 && bytes + b > maxBytes) {
      await producer.send({ topic, acks: -1, messages: chunk });
      chunk = [];
      bytes = 0;
    }
    chunk.push(m);
    bytes += b;
  }
  if (chunk.length > 0) await producer.send({ topic, acks: -1, messages: chunk });
}

export function parseDeadLetter(value: Buffer | null): DeadLetter {
  if (!value) throw new Error('dead letter without a value');
  return JSON.parse(value.toString('utf8')) as DeadLetter;
}
