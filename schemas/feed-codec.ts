// Feed requests and feeds on Kafka: Avro with the registry, like events.
import type { KafkaMessage } from 'kafkajs';
import { z } from 'zod';
import { formatIssues } from '../core/events.ts';
import { DecodeError, ValidationError } from './record-errors.ts';
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

export async function registerFeedSchemas(
  registry: SchemaRegistryClient,
  requestTopic: string,
  feedTopic: string,
): Promise<FeedSchemaIds> {
  const req = readSchema('FeedRequest');
  const feed = readSchema('Feed');
  return {
    request: await registry.register(subjectFor(requestTopic, req), req),
    feed: await registry.register(subjectFor(feedTopic, feed), feed),
  };
}

export async function decodeFeedRequest(
  registry: SchemaRegistryClient,
  message: KafkaMessage,
): Promise<{ value: FeedRequestRecord; schemaId: number }> {
  const decoded = await registry.decode(message.value);
  if (decoded.recordName !== 'io.rankstream.serving.FeedRequest') {
    throw new DecodeError(
      `schema id ${decoded.schemaId} is ${decoded.recordName}, not io.rankstream.serving.FeedRequest`,
      decoded.schemaId,
    );
  }
  // The fields every answer echoes, by type (the request's rules give an invalid_request Feed instead): a schema registered
  // under our record name with other fields would otherwise fail only when its Feed is encoded, an error the runner
  // retries as an outage.
  const shape = feedRequestShape.safeParse(decoded.value);
  if (!shape.success)
    throw new ValidationError(
      `invalid io.rankstream.serving.FeedRequest: ${formatIssues(shape.error.issues)}`,
      decoded.schemaId,
    );
  return { value: decoded.value as unknown as FeedRequestRecord, schemaId: decoded.schemaId };
}

/** The fields a Feed echoes must be strings; the others are checked with the request (checkFeedRequest). */
const feedRequestShape = z.object({ requestId: z.string(), tenant: z.string(), userId: z.string() });

export async function decodeFeed(registry: SchemaRegistryClient, value: Buffer | null): Promise<FeedRecord> {
  const decoded = await registry.decode(value);
  if (decoded.recordName !== 'io.rankstream.serving.Feed')
    throw new DecodeError(`not a Feed: ${decoded.recordName}`, decoded.schemaId);
  return decoded.value as unknown as FeedRecord;
}
