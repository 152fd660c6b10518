// The dead-letter record: what failed, why, where it came from, and the original bytes, so nothing is lost
// and a fixed consumer can replay it.
import type { Producer } from 'kafkajs';

export type FailureStage = 'decode' | 'validate' | 'process';

export interface DeadLetter {
  reason: string;
  stage: FailureStage;
  processor: string;
  schemaId: number | null;
  failedAt: string;
  source: { topic: string; partition: number; offset: string; timestamp: string; key: string | null };
  /** Original message value, base64. */
  payload: string | null;
}

export interface FailedMessage {
  topic: string;
  partition: number;
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
}

export function deadLetter(msg: FailedMessage, processor: string, stage: FailureStage, reason: string, schemaId: number | null, now = new Date()): DeadLetter {
  return {
    reason,
    stage,
    processor,
    schemaId,
    failedAt: now.toISOString(),
    source: { topic: msg.topic, partition: msg.partition, offset: msg.offset, timestamp: msg.timestamp, key: msg.key ? msg.key.toString('base64') : null },
    payload: msg.value ? msg.value.toString('base64') : null,
  };
}

/** Publishes dead letters (acks=all); the caller commits the source offsets only after this resolves. */
export async function publishDeadLetters(producer: Producer, topic: string, letters: DeadLetter[]): Promise<void> {
  if (letters.length === 0) return;
  await producer.send({
    topic,
    acks: -1,
    messages: letters.map((l) => ({
      key: l.source.key ? Buffer.from(l.source.key, 'base64') : null,
      value: JSON.stringify(l),
      headers: { 'rankstream.dlq.reason': l.reason.slice(0, 1000), 'rankstream.dlq.stage': l.stage, 'rankstream.dlq.source': `${l.source.topic}/${l.source.partition}/${l.source.offset}` },
    })),
  });
}

export function parseDeadLetter(value: Buffer | null): DeadLetter {
  if (!value) throw new Error('dead letter without a value');
  return JSON.parse(value.toString('utf8')) as DeadLetter;
}
