// Guards in front of a topic's decoder, for input the schemas alone do not stop: records too large to decode (or to
// dead-letter whole), and events or items of a tenant nobody registered. Both reject as DecodeError / ValidationError,
// so the runner dead-letters the record with its reason (or skips it, for the processors that do not own dead letters).
import type { KafkaMessage } from 'kafkajs';
import type { RecordDecoder } from './consumer-runner.ts';
import { DecodeError, ValidationError } from '../schemas/record-errors.ts';

/** Rejects a record whose key and value together exceed maxBytes before decoding it (MAX_RECORD_BYTES). */
export function limitRecordSize<T>(decode: RecordDecoder<T>, maxBytes: number): RecordDecoder<T> {
  return (message: KafkaMessage) => {
    const bytes = (message.value?.length ?? 0) + (message.key?.length ?? 0);
    if (bytes > maxBytes)
      return Promise.reject(new DecodeError(`record of ${bytes} bytes exceeds MAX_RECORD_BYTES (${maxBytes})`, null));
    return decode(message);
  };
}

/**
 * Rejects a decoded record whose tenant is not registered (REQUIRE_REGISTERED_TENANTS): a tenant exists once it has an
 * API key (`npm run keys -- create`). `isRegistered` is asked on every record whose tenant has not been seen registered
 * yet; registered tenants are remembered (a tenant is never unregistered), unknown ones never are, so the records of a
 * tenant registered a moment ago are accepted at once.
 */
export function requireRegisteredTenant<T extends { tenant: string }>(
  decode: RecordDecoder<T>,
  isRegistered: (tenant: string) => Promise<boolean>,
  always: readonly string[] = [],
): RecordDecoder<T> {
  const known = new Set(always);
  return async (message: KafkaMessage) => {
    const decoded = await decode(message);
    const tenant = decoded.value.tenant;
    if (!known.has(tenant)) {
      if (!(await isRegistered(tenant))) {
        throw new ValidationError(
          `tenant: ${JSON.stringify(tenant)} is not registered (REQUIRE_REGISTERED_TENANTS is on: create an API key for the tenant before producing its records)`,
          decoded.schemaId,
        );
      }
      known.add(tenant);
    }
    return decoded;
  };
}
