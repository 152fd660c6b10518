// Feed requests and feeds on Kafka: Avro with the registry, like events.
import type { KafkaMessage } from 'kafkajs';
import { DecodeError } from '../streams/record-errors.ts';
import { readSchema, subjectFor, type SchemaRegistryClient } from './registry.ts';

export interface FeedRequestRecord {
  requestId: string;
  tenant: string;
  userId: string;
  k: number;
  exclude: string[];
  /** Attribute constraints as JSON text (core/catalog.ts), or null. */
  where: string | null;
  seedItems: string[];
  /** Business rules as JSON text, or null. */
  rules: string | null;
  timestamp: number;
}

export type FeedStatus = 'ok' | 'unknown_tenant' | 'unknown_user' | 'invalid_request';

export interface FeedRecord {
  recommendationId: string;
  requestId: string;
  tenant: string;
  userId: string;
  status: FeedStatus;
  error: string | null;
  items: { itemId: string; score: number; source: string; propensity: number }[];
  modelVersion: string;
  indexVersion: string;
  timestamp: number;
  fallback: 'community' | null;
  experiments: Record<string, string>;
  rankerVersion: string | null;
}

export interface FeedSchemaIds {
  request: number;
  feed: number;
}

export async function registerFeedSchemas(registry: SchemaRegistryClient, requestTopic: string, feedTopic: string): Promise<FeedSchemaIds> {
  const req = readSchema('FeedRequest');
  const feed = readSchema('Feed');
  return { request: await registry.register(subjectFor(requestTopic, req), req), feed: await registry.register(subjectFor(feedTopic, feed), feed) };
}

export async function decodeFeedRequest(registry: SchemaRegistryClient, message: KafkaMessage): Promise<{ value: FeedRequestRecord; schemaId: number }> {
  const decoded = await registry.decode(message.value);
  if (decoded.recordName !== 'io.rankstream.serving.FeedRequest') {
    throw new DecodeError(`schema id ${decoded.schemaId} is ${decoded.recordName}, not io.rankstream.serving.FeedRequest`, decoded.schemaId);
  }
  return { value: decoded.value as unknown as FeedRequestRecord, schemaId: decoded.schemaId };
}

export async function decodeFeed(registry: SchemaRegistryClient, value: Buffer | null): Promise<FeedRecord> {
  const decoded = await registry.decode(value);
  if (decoded.recordName !== 'io.rankstream.serving.Feed') throw new DecodeError(`not a Feed: ${decoded.recordName}`, decoded.schemaId);
  return decoded.value as unknown as FeedRecord;
}
