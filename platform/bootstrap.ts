// Idempotent provisioning: topics, schemas, ClickHouse database, ledger, catalogue and ranker-example tables. Safe to run on every start.
import type { Config } from '../core/config.ts';
import { catalogTableDdl } from '../processors/catalog.ts';
import { rankerExamplesDdl } from '../processors/ranker-examples.ts';
import { LedgerWriter } from '../processors/ledger-writer.ts';
import { registerEventSchemas, type EventSchemaIds } from '../schemas/event-codec.ts';
import { registerFeedSchemas, type FeedSchemaIds } from '../schemas/feed-codec.ts';
import { registerItemSchema } from '../schemas/item-codec.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { allTopics, createKafka, ensureTopics } from '../streams/kafka.ts';
import { createClickHouse, ensureDatabase } from './clickhouse.ts';
import type { Logger } from './logger.ts';

export interface Provisioned {
  eventSchemaIds: EventSchemaIds;
  feedSchemaIds: FeedSchemaIds;
  itemSchemaId: number;
}

/** The ClickHouse tables provisioning creates (what a benchmark or test run drops when it cleans up). */
export function provisionedTables(config: Config): string[] {
  return [config.ledger.table, config.catalog.table, config.ranker.examplesTable];
}

export async function provision(config: Config, logger: Logger): Promise<Provisioned> {
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, allTopics(config), config.topics.partitions);
  const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  const eventSchemaIds = await registerEventSchemas(registry, config.topics.events);
  const feedSchemaIds = await registerFeedSchemas(registry, config.topics.feedRequests, config.topics.feeds);
  const itemSchemaId = await registerItemSchema(registry, config.topics.items);
  await ensureDatabase(config);
  const clickhouse = createClickHouse(config);
  try {
    await new LedgerWriter(clickhouse, config.clickhouse.database, config.ledger.table).ensureTable();
    await clickhouse.command({ query: catalogTableDdl(config.clickhouse.database, config.catalog.table) });
    await clickhouse.command({ query: rankerExamplesDdl(config.clickhouse.database, config.ranker.examplesTable) });
  } finally {
    await clickhouse.close();
  }
  logger.info({ topics: allTopics(config), eventSchemaIds, feedSchemaIds, itemSchemaId }, 'provisioned');
  return { eventSchemaIds, feedSchemaIds, itemSchemaId };
}
