// Adapter to a Confluent-compatible schema registry: registers our Avro schemas (BACKWARD compatibility,
// TopicRecordNameStrategy subjects) and encodes/decodes the Confluent wire format
// (magic byte 0, 4-byte big-endian schema id, Avro body).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SchemaRegistry, SchemaType, COMPATIBILITY } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { DecodeError } from './record-errors.ts';

const AVRO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'avro');

export type SchemaName = 'Impression' | 'Click' | 'Engagement' | 'Conversion' | 'FeedRequest' | 'Feed' | 'Item';

/** The .avsc text of one of our schemas. */
export function readSchema(name: SchemaName): string {
  return readFileSync(join(AVRO_DIR, `${name}.avsc`), 'utf8');
}

export function fullName(schemaText: string): string {
  const parsed = JSON.parse(schemaText) as { name: string; namespace?: string };
  return parsed.namespace ? `${parsed.namespace}.${parsed.name}` : parsed.name;
}

/** TopicRecordNameStrategy: several record types share one topic, each with its own compatibility history. */
export function subjectFor(topic: string, schemaText: string): string {
  return `${topic}-${fullName(schemaText)}`;
}

export class SchemaCompatibilityError extends Error {
  constructor(
    readonly subject: string,
    readonly detail: string,
  ) {
    super(`schema for subject ${subject} is not BACKWARD compatible with the registered versions: ${detail}`);
    this.name = 'SchemaCompatibilityError';
  }
}

export interface Decoded {
  schemaId: number;
  /** Fully qualified Avro record name, e.g. io.rankstream.events.Click. */
  recordName: string;
  value: Record<string, unknown>;
}

interface ResponseErrorLike {
  status?: number;
  message?: string;
}

/** The Avro encoding of the string "__proto__" (zig-zag length 9, then the bytes). */
const PROTO_KEY = Buffer.from('\x12__proto__', 'latin1');

/**
 * Whether decoding dropped a map entry keyed "__proto__": avsc builds maps as plain objects, where that assignment sets
 * the prototype instead of adding a key. Only bodies holding those bytes are re-encoded to compare.
 */
function losesProtoKey(type: avro.Type, body: Buffer, value: unknown): boolean {
  return body.includes(PROTO_KEY) && !type.toBuffer(value).equals(body);
}

export class SchemaRegistryClient {
  private readonly registry: SchemaRegistry;
  private readonly types = new Map<number, Promise<avro.Type>>();

  constructor(readonly url: string) {
    this.registry = new SchemaRegistry({
      host: url,
      retry: { retries: 3, initialRetryTimeInSecs: 0.2, maxRetryTimeInSecs: 2 },
    });
  }

  /**
   * Registers a schema under a subject with BACKWARD compatibility and returns its id. Registering the same schema
   * again returns the existing id. An incompatible change is rejected by the registry: we surface its reason.
   */
  async register(subject: string, schemaText: string): Promise<number> {
    try {
      const { id } = await this.registry.register(
        { type: SchemaType.AVRO, schema: schemaText },
        { subject, compatibility: COMPATIBILITY.BACKWARD },
      );
      return id;
    } catch (err) {
      const e = err as ResponseErrorLike;
      if (e.status === 409) throw new SchemaCompatibilityError(subject, e.message ?? 'rejected by the registry (409)');
      throw new Error(`registering ${subject} at ${this.url} failed: ${e.message ?? String(err)}`, { cause: err });
    }
  }

  /**
   * Every subject, page by page: Apicurio's /subjects answers at most 1,000 without `limit`/`offset` (and ignores
   * Confluent's `subjectPrefix`), so a single call silently misses subjects on a busy registry.
   */
  async subjects(pageSize = 1000): Promise<string[]> {
    const base = this.url.replace(/\/$/, '');
    const all: string[] = [];
    for (let offset = 0; ; offset += pageSize) {
      const res = await fetch(`${base}/subjects?limit=${pageSize}&offset=${offset}`);
      if (!res.ok) throw new Error(`listing subjects at ${this.url}: HTTP ${res.status}`);
      const page = (await res.json()) as string[];
      all.push(...page);
      if (page.length < pageSize) return all;
    }
  }

  /** Deletes a subject and all its versions for good (soft, then permanent); a missing subject is not an error. */
  async deleteSubject(subject: string): Promise<void> {
    const base = this.url.replace(/\/$/, '');
    for (const query of ['', '?permanent=true']) {
      const res = await fetch(`${base}/subjects/${encodeURIComponent(subject)}${query}`, { method: 'DELETE' });
      if (!res.ok && res.status !== 404)
        throw new Error(`deleting subject ${subject}${query} at ${this.url}: HTTP ${res.status}`);
    }
  }

  /** Encodes a record with a registered schema id into the Confluent wire format. */
  async encode(schemaId: number, record: Record<string, unknown>): Promise<Buffer> {
    const type = await this.typeFor(schemaId);
    const paths: string[] = [];
    if (!type.isValid(record, { errorHook: (path) => paths.push(path.join('.') || '(root)') })) {
      throw new Error(`record does not match schema ${type.name ?? schemaId}: invalid field(s) ${paths.join(', ')}`);
    }
    const body = type.toBuffer(record);
    const out = Buffer.alloc(5 + body.length);
    out.writeUInt8(0, 0);
    out.writeInt32BE(schemaId, 1);
    body.copy(out, 5);
    return out;
  }

  /** Decodes a Confluent-framed Avro message; throws DecodeError with a specific reason. */
  async decode(buffer: Buffer | null): Promise<Decoded> {
    if (!buffer || buffer.length === 0) throw new DecodeError('empty message value', null);
    if (buffer.length < 5 || buffer.readUInt8(0) !== 0) {
      throw new DecodeError(
        `not Confluent wire format: expected magic byte 0 and a 4-byte schema id (got ${buffer.length} bytes starting 0x${buffer.subarray(0, 1).toString('hex')})`,
        null,
      );
    }
    const schemaId = buffer.readInt32BE(1);
    let type: avro.Type;
    try {
      type = await this.typeFor(schemaId);
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      const e = err as ResponseErrorLike;
      if (e.status === 404)
        throw new DecodeError(`unknown schema id ${schemaId}: the registry has no such schema`, schemaId);
      throw err; // registry unreachable: not the message's fault, so not a dead letter
    }
    let value: Record<string, unknown>;
    try {
      value = type.fromBuffer(buffer.subarray(5)) as Record<string, unknown>;
    } catch (err) {
      throw new DecodeError(
        `Avro body does not decode with schema id ${schemaId} (${type.name ?? ''}): ${(err as Error).message}`,
        schemaId,
      );
    }
    if (losesProtoKey(type, buffer.subarray(5), value)) {
      throw new DecodeError(
        `Avro body with schema id ${schemaId} (${type.name ?? ''}) has a map key "__proto__", which a JavaScript object cannot hold (it would be dropped silently)`,
        schemaId,
      );
    }
    return { schemaId, recordName: type.name ?? '', value: { ...value } };
  }

  private typeFor(schemaId: number): Promise<avro.Type> {
    let pending = this.types.get(schemaId);
    if (!pending) {
      pending = this.registry.getSchema(schemaId).then((schema) => {
        // For Avro the client returns an avsc Type (the same avsc package we depend on).
        if (!(schema instanceof avro.Type))
          throw new DecodeError(`schema id ${schemaId} is not an Avro schema`, schemaId);
        return schema;
      });
      pending.catch(() => this.types.delete(schemaId));
      this.types.set(schemaId, pending);
    }
    return pending;
  }
}
