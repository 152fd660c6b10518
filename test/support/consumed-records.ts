// Values wrapped as the stream processors receive them from the consumer runner, for tests and benches that hand
// records to a processor directly, without Kafka.
import type { ConsumedRecord } from '../../streams/consumer-runner.ts';

/** `value` as the record at `offset` of partition 0 of `topic`, with no key, raw bytes or schema id. */
export function consumedRecord<T>(value: T, offset: number, topic = 'bench'): ConsumedRecord<T> {
  return { value, topic, partition: 0, offset: String(offset), timestamp: '0', key: null, raw: null, schemaId: null };
}
