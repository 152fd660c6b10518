// The typed producer for the item catalogue. Records are validated before they leave, so a producer bug surfaces at
// the call site, not as a dead letter.
import type { Kafka, Producer } from 'kafkajs';
import { validateCatalogItem, type CatalogItem } from '../core/catalog.ts';
import { encodeItem, registerItemSchema } from '../schemas/item-codec.ts';
import type { SchemaRegistryClient } from '../schemas/registry.ts';
import { createProducer } from './kafka.ts';

export class InvalidItemError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidItemError';
  }
}

/** Partition key: every version of one item lands on one partition, so they are applied in the order sent. */
export function itemKey(item: Pick<CatalogItem, 'tenant' | 'itemId'>): string {
  return `${item.tenant}:${item.itemId}`;
}

export class ItemProducer {
  private constructor(
    private readonly producer: Producer,
    private readonly registry: SchemaRegistryClient,
    readonly schemaId: number,
    readonly topic: string,
  ) {}

  static async connect(kafka: Kafka, registry: SchemaRegistryClient, topic: string): Promise<ItemProducer> {
    const schemaId = await registerItemSchema(registry, topic);
    const producer = createProducer(kafka);
    await producer.connect();
    return new ItemProducer(producer, registry, schemaId, topic);
  }

  /** Validates, encodes and sends item records (acks=all). Throws InvalidItemError naming the item and field. */
  async send(items: CatalogItem[]): Promise<void> {
    if (items.length === 0) return;
    const messages = [];
    for (const item of items) {
      const checked = validateCatalogItem(item);
      if (!checked.ok)
        throw new InvalidItemError(`item ${item.tenant}:${item.itemId || '(no itemId)'} rejected: ${checked.error}`);
      messages.push({
        key: itemKey(checked.value),
        value: await encodeItem(this.registry, this.schemaId, checked.value),
      });
    }
    await this.producer.send({ topic: this.topic, acks: -1, messages });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
