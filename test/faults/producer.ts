// The stream driver: the seeded generator's messages encoded (valid ones through the schema registry, invalid ones
// as the kind of damage they stand for) and sent at a steady rate, with what was sent counted for the checks.
import type { Producer } from 'kafkajs';
import { toAvroRecord, validateEvent } from '../../core/events.ts';
import { encodeEvent, type EventSchemaIds } from '../../schemas/event-codec.ts';
import { encodeItem } from '../../schemas/item-codec.ts';
import type { SchemaRegistryClient } from '../../schemas/registry.ts';
import { eventKey } from '../../streams/event-producer.ts';
import { eventStream, type Generated, type InvalidKind, type StreamOptions } from './generator.ts';
import { log, sleep } from './timeline.ts';

export interface ProduceStats {
  messages: number;
  valid: number;
  invalid: number;
  requests: number;
  /** Produce requests sent again after failing (the batch may then be in the topic twice; consumers de-duplicate). */
  resends: number;
  errors: string[];
  startedAt: number;
  finishedAt: number | null;
  /** Messages of the last 10% sent at the slower rate while faults were still to come. */
  slowedMessages: number;
  acceptedPerTenant: Map<string, number>;
  /** Accepted events with a non-zero ALS weight (non-impressions), per tenant. */
  weightedPerTenant: Map<string, number>;
  injected: Map<string, InvalidKind>;
}

export interface Encoders {
  registry: SchemaRegistryClient;
  ids: EventSchemaIds;
  itemSchemaId: number;
}

async function encode(g: Generated, enc: Encoders): Promise<{ key: string; value: Buffer }> {
  if (g.kind === 'valid') {
    const checked = validateEvent(g.event);
    if (!checked.ok) throw new Error(`generator produced an invalid event ${g.event.eventId}: ${checked.error}`);
    return { key: eventKey(g.event), value: await encodeEvent(enc.registry, enc.ids, g.event) };
  }
  const e = g.event;
  switch (g.invalid) {
    case 'garbage-bytes':
      return { key: g.key, value: Buffer.from(`garbage ${g.key} ${'x'.repeat(40)}`) };
    case 'empty-value':
      return { key: g.key, value: Buffer.alloc(0) };
    case 'unknown-schema-id': {
      const value = Buffer.alloc(40, 7);
      value.writeUInt8(0, 0);
      value.writeInt32BE(987_654_321, 1);
      return { key: g.key, value };
    }
    case 'corrupt-avro': {
      const full = await encodeEvent(enc.registry, enc.ids, e);
      return { key: g.key, value: full.subarray(0, 5 + Math.floor((full.length - 5) / 2)) };
    }
    case 'foreign-schema':
      return {
        key: g.key,
        value: await encodeItem(enc.registry, enc.itemSchemaId, {
          tenant: e.tenant,
          itemId: e.itemId,
          attributes: {},
          numeric: {},
          createdAt: e.timestamp,
          updatedAt: e.timestamp,
          deleted: false,
        }),
      };
    default:
      // the Avro kinds: encoded as-is, bypassing the producer-side validation that would refuse them
      return { key: g.key, value: await enc.registry.encode(enc.ids[e.type], toAvroRecord(e)) };
  }
}

/**
 * The last 10% of the messages go out at a quarter of the rate while faults are still to come, so that every fault
 * happens while events stream (recoveries can take longer than the schedule planned).
 */
export const TAIL_SHARE = 0.1;
const TAIL_SLOWDOWN = 4;

export async function produce(
  producer: Producer,
  topic: string,
  stream: StreamOptions,
  ratePerS: number,
  batchSize: number,
  enc: Encoders,
  stats: ProduceStats,
  shouldStop: () => boolean,
  slowTail: () => boolean,
): Promise<void> {
  stats.startedAt = Date.now();
  let due = stats.startedAt;
  let batch: { key: string; value: Buffer }[] = [];
  const send = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await producer.send({ topic, acks: -1, messages: batch });
        stats.requests++;
        break;
      } catch (err) {
        stats.resends++;
        const msg = err instanceof Error ? err.message : String(err);
        if (stats.errors.length < 10) stats.errors.push(msg);
        log(`producer: send failed (${msg}); resending in 1 s (attempt ${attempt + 1})`);
        if (shouldStop()) throw err;
        await sleep(1000);
      }
    }
    const slow = stats.messages >= stream.events * (1 - TAIL_SHARE) && slowTail();
    if (slow) stats.slowedMessages += batch.length;
    due += (batch.length / (slow ? ratePerS / TAIL_SLOWDOWN : ratePerS)) * 1000;
    stats.messages += batch.length;
    batch = [];
    if (due > Date.now()) await sleep(due - Date.now());
  };
  for (const g of eventStream(stream)) {
    batch.push(await encode(g, enc));
    if (g.kind === 'valid') {
      stats.valid++;
      const t = g.event.tenant;
      stats.acceptedPerTenant.set(t, (stats.acceptedPerTenant.get(t) ?? 0) + 1);
      if (g.event.type !== 'impression') stats.weightedPerTenant.set(t, (stats.weightedPerTenant.get(t) ?? 0) + 1);
    } else {
      stats.invalid++;
      stats.injected.set(g.key, g.invalid);
    }
    if (batch.length >= batchSize) await send();
  }
  if (batch.length > 0) await send();
  stats.finishedAt = Date.now();
}
