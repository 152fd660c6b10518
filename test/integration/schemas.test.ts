// Schema registration and the Confluent wire format against the real registry.
import { describe, expect, it } from 'vitest';
import { registerEventSchemas } from '../../schemas/event-codec.ts';
import { SchemaCompatibilityError, SchemaRegistryClient, readSchema, subjectFor } from '../../schemas/registry.ts';
import { DecodeError } from '../../schemas/record-errors.ts';
import { isolatedConfig } from '../support/harness.ts';

const config = isolatedConfig('schemas');
const registry = new SchemaRegistryClient(config.schemaRegistryUrl);

function clickWith(extraFields: object[]): string {
  const s = JSON.parse(readSchema('Click')) as { fields: object[] };
  s.fields.push(...extraFields);
  return JSON.stringify(s);
}

describe('schema registry', () => {
  it('registers the event schemas idempotently', async () => {
    const first = await registerEventSchemas(registry, config.topics.events);
    const again = await registerEventSchemas(registry, config.topics.events);
    expect(again).toEqual(first);
    expect(new Set(Object.values(first)).size).toBe(4);
  });

  it('accepts a BACKWARD compatible change and rejects an incompatible one with the subject named', async () => {
    const subject = subjectFor(config.topics.events, readSchema('Click'));
    const base = await registry.register(subject, readSchema('Click'));
    const evolved = await registry.register(
      subject,
      clickWith([{ name: 'referrer', type: ['null', 'string'], default: null }]),
    );
    expect(evolved).not.toBe(base);

    const breaking = registry.register(
      subject,
      clickWith([
        { name: 'referrer', type: ['null', 'string'], default: null },
        { name: 'mandatory', type: 'string' },
      ]),
    );
    await expect(breaking).rejects.toBeInstanceOf(SchemaCompatibilityError);
    await expect(breaking).rejects.toThrow(
      new RegExp(`${subject.replace(/\./g, '\\.')} is not BACKWARD compatible.*mandatory`),
    );
  });

  it('encodes the Confluent wire format and decodes it back', async () => {
    const ids = await registerEventSchemas(registry, config.topics.events);
    const record = {
      eventId: 'e',
      tenant: 't',
      userId: 'u',
      itemId: 'i',
      timestamp: 1_700_000_000_000,
      recommendationId: null,
      context: { a: 'b' },
    };
    const bytes = await registry.encode(ids.click, record);
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(ids.click);
    const decoded = await registry.decode(bytes);
    expect(decoded).toEqual({ schemaId: ids.click, recordName: 'io.rankstream.events.Click', value: record });
    await expect(registry.encode(ids.click, { ...record, timestamp: 'yesterday' })).rejects.toThrow(
      /invalid field\(s\) timestamp/,
    );
    await expect(registry.decode(Buffer.concat([bytes.subarray(0, 5), Buffer.from([0xff])]))).rejects.toBeInstanceOf(
      DecodeError,
    );
  });
});
