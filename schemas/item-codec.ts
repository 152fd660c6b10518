// Catalogue item records <-> Confluent-framed Avro (io.rankstream.catalog.Item) on the items topic.
import type { KafkaMessage } from 'kafkajs';
import { validateCatalogItem, type CatalogItem } from '../core/catalog.ts';
import { DecodeError, ValidationError } from './record-errors.ts';
import { readSchema, subjectFor, type SchemaRegistryClient } from './registry.ts';

export const ITEM_RECORD_NAME = 'io.rankstream.catalog.Item';

/** Registers (or finds) the Item schema for a topic; rejects an incompatible change with a clear error. */
export async function registerItemSchema(registry: SchemaRegistryClient, topic: string): Promise<number> {
  const text = readSchema('Item');
  return registry.register(subjectFor(topic, text), text);
}

export async function encodeItem(registry: SchemaRegistryClient, schemaId: number, item: CatalogItem): Promise<Buffer> {
  return registry.encode(schemaId, { ...item });
}

/** Decodes and validates one message of the items topic (DecodeError / ValidationError name what is wrong). */
export async function decodeItem(
  registry: SchemaRegistryClient,
  message: KafkaMessage,
  nowMs = Date.now(),
): Promise<{ value: CatalogItem; schemaId: number }> {
  const decoded = await registry.decode(message.value);
  if (decoded.recordName !== ITEM_RECORD_NAME) {
    throw new DecodeError(
      `schema id ${decoded.schemaId} is ${decoded.recordName || 'an unnamed schema'}, not ${ITEM_RECORD_NAME}`,
      decoded.schemaId,
    );
  }
  const checked = validateCatalogItem(decoded.value, nowMs);
  if (!checked.ok) throw new ValidationError(`invalid ${ITEM_RECORD_NAME}: ${checked.error}`, decoded.schemaId);
  return { value: checked.value, schemaId: decoded.schemaId };
}
