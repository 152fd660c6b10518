// The typed producer applications use to emit interaction events. Events are validated before they leave, so a
// producer bug surfaces at the call site, not as a dead letter.
import type { Kafka, Producer } from 'kafkajs';
import { validateEvent, type InteractionEvent } from '../core/events.ts';
import { encodeEvent, registerEventSchemas, type EventSchemaIds } from '../schemas/event-codec.ts';
import type { SchemaRegistryClient } from '../schemas/registry.ts';
import { createProducer } from './kafka.ts';

export class InvalidEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEventError';
  }
}

/** Partition key: one user's events stay ordered on one partition. */
export function eventKey(event: Pick<InteractionEvent, 'tenant' | 'userId'>): string {
  return `${event.tenant}/${event.userId}`;
}

export class EventProducer {
  private constructor(
    private readonly producer: Producer,
    private readonly registry: SchemaRegistryClient,
    private readonly ids: EventSchemaIds,
    readonly topic: string,
  ) {}

  static async connect(kafka: Kafka, registry: SchemaRegistryClient, topic: string): Promise<EventProducer> {
    const ids = await registerEventSchemas(registry, topic);
    const producer = createProducer(kafka);
    await producer.connect();
    return new EventProducer(producer, registry, ids, topic);
  }

  get schemaIds(): Readonly<EventSchemaIds> {
    return this.ids;
  }

  /** Validates, encodes and sends events (acks=all). Throws InvalidEventError naming the event and field. */
  async send(events: InteractionEvent[]): Promise<void> {
    if (events.length === 0) return;
    const messages = [];
    for (const event of events) {
      const checked = validateEvent(event);
      if (!checked.ok)
        throw new InvalidEventError(`event ${event.eventId || '(no eventId)'} rejected: ${checked.error}`);
      messages.push({ key: eventKey(event), value: await encodeEvent(this.registry, this.ids, checked.value) });
    }
    await this.producer.send({ topic: this.topic, acks: -1, messages });
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
  }
}
