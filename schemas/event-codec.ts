// Interaction events <-> Confluent-framed Avro, one record type per event type on one topic.
import type { KafkaMessage } from 'kafkajs';
import {
  EVENT_TYPES,
  RECORD_NAMES,
  fromAvroRecord,
  toAvroRecord,
  validateEvent,
  type EventType,
  type InteractionEvent,
} from '../core/events.ts';
import { DecodeError, ValidationError } from './record-errors.ts';
import { readSchema, subjectFor, type SchemaRegistryClient } from './registry.ts';

export const EVENTS_NAMESPACE = 'io.rankstream.events';

export type EventSchemaIds = Record<EventType, number>;

/** Registers (or finds) the four event schemas for a topic; rejects an incompatible change with a clear error. */
export async function registerEventSchemas(registry: SchemaRegistryClient, topic: string): Promise<EventSchemaIds> {
  const ids = {} as EventSchemaIds;
  for (const type of EVENT_TYPES) {
    const text = readSchema(RECORD_NAMES[type]);
    ids[type] = await registry.register(subjectFor(topic, text), text);
  }
  return ids;
}

export async function encodeEvent(
  registry: SchemaRegistryClient,
  ids: EventSchemaIds,
  event: InteractionEvent,
): Promise<Buffer> {
  return registry.encode(ids[event.type], toAvroRecord(event));
}

/** Decodes and validates one message of the events topic. */
export async function decodeEvent(
  registry: SchemaRegistryClient,
  message: KafkaMessage,
  nowMs = Date.now(),
): Promise<{ value: InteractionEvent; schemaId: number }> {
  const decoded = await registry.decode(message.value);
  const prefix = `${EVENTS_NAMESPACE}.`;
  // a record of another name in our namespace (a type we do not know) is as undecodable as one outside it; letting
  // fromAvroRecord throw a plain Error made it an outage, retried forever by every processor
  const known = EVENT_TYPES.some((t) => decoded.recordName === `${prefix}${RECORD_NAMES[t]}`);
  if (!known) {
    throw new DecodeError(
      `schema id ${decoded.schemaId} is ${decoded.recordName || 'an unnamed schema'}, not an interaction event`,
      decoded.schemaId,
    );
  }
  const candidate = fromAvroRecord(decoded.recordName.slice(prefix.length), decoded.value);
  const checked = validateEvent(candidate, nowMs);
  if (!checked.ok) throw new ValidationError(`invalid ${decoded.recordName}: ${checked.error}`, decoded.schemaId);
  return { value: checked.value, schemaId: decoded.schemaId };
}
