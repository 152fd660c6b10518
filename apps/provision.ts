// Idempotent provisioning: topics, schemas, ClickHouse database, ledger, catalogue and ranker-example tables. Safe to run on every start.
import { loadConfig, type Config } from '../config/config.ts';
import { ensureCatalogTable } from '../state/catalog-table.ts';
import { ensureLedgerTable } from '../state/ledger.ts';
import { rankerExamplesDdl } from '../state/ranker-examples.ts';
import { dropTable } from '../state/tables.ts';
import { registerEventSchemas, type EventSchemaIds } from '../schemas/event-codec.ts';
import { registerFeedSchemas, type FeedSchemaIds } from '../schemas/feed-codec.ts';
import { registerItemSchema } from '../schemas/item-codec.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { allTopics, createKafka, ensureTopics } from '../streams/kafka.ts';
import { createClickHouse, ensureDatabase } from '../platform/clickhouse.ts';
import type { Logger } from '../platform/logger.ts';

export interface Provisioned {
  eventSchemaIds: EventSchemaIds;
  feedSchemaIds: FeedSchemaIds;
  itemSchemaId: number;
}

/** The ClickHouse tables provisioning creates. */
export function provisionedTables(config: Config): string[] {
  return [config.ledger.table, config.catalog.table, config.ranker.examplesTable];
}

export type DeprovisionReport = Record<'consumerGroups' | 'topics' | 'schemaSubjects' | 'tables', string>;

/**
 * Removes what a run under its own names (test/support/isolated-env.ts) created: the consumer groups of its prefix, its
 * topics, their schema subjects and its tables. Each step is tried even if an earlier one failed, and reported.
 * Refuses a config that shares any name with the defaults, so it cannot remove a deployment's data.
 */
export async function deprovision(config: Config, logger: Logger): Promise<DeprovisionReport> {
  const defaults = loadConfig({});
  const shared = [
    ...allTopics(config).filter((t) => allTopics(defaults).includes(t)),
    ...provisionedTables(config).filter((t) => provisionedTables(defaults).includes(t)),
    ...(config.runner.groupPrefix === defaults.runner.groupPrefix
      ? [`consumer group prefix ${config.runner.groupPrefix}`]
      : []),
  ];
  if (shared.length > 0)
    throw new Error(
      `deprovision: refusing a config with default names (${shared.join(', ')}); it is for runs under isolatedEnv names`,
    );
  // a run under isolatedEnv names owns every topic under its <scope>.<run>. prefix (tests add topics of their own there)
  const topics = new Set(allTopics(config));
  const prefix = /^[^.]+\.[^.]+\./.exec(config.topics.events)?.[0];
  const runPrefix = prefix !== undefined && [...topics].every((t) => t.startsWith(prefix)) ? prefix : undefined;
  const isOurs = (topic: string) => topics.has(topic) || (runPrefix !== undefined && topic.startsWith(runPrefix));
  const report = {} as DeprovisionReport;
  const attempt = async (step: keyof DeprovisionReport, fn: () => Promise<number>) => {
    try {
      report[step] = `removed ${await fn()}`;
    } catch (err) {
      report[step] = `failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  const admin = createKafka(config, logger).admin();
  await admin.connect();
  try {
    await attempt('consumerGroups', async () => {
      const ours = (await admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((g) => g.startsWith(`${config.runner.groupPrefix}-`));
      if (ours.length > 0) await admin.deleteGroups(ours);
      return ours.length;
    });
    await attempt('topics', async () => {
      const ours = (await admin.listTopics()).filter(isOurs);
      if (ours.length > 0) await admin.deleteTopics({ topics: ours });
      return ours.length;
    });
  } finally {
    await admin.disconnect();
  }
  await attempt('schemaSubjects', async () => {
    const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
    // subjects are <topic>-<record name> (TopicRecordNameStrategy)
    const ours = (await registry.subjects()).filter((s) => isOurs(s.slice(0, s.lastIndexOf('-'))));
    for (const s of ours) await registry.deleteSubject(s);
    return ours.length;
  });
  await attempt('tables', async () => {
    const clickhouse = createClickHouse(config);
    try {
      for (const table of provisionedTables(config)) await dropTable(clickhouse, config.clickhouse.database, table);
    } finally {
      await clickhouse.close();
    }
    return provisionedTables(config).length;
  });
  return report;
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
    await ensureLedgerTable(clickhouse, config.clickhouse.database, config.ledger.table);
    await ensureCatalogTable(clickhouse, config.clickhouse.database, config.catalog.table);
    await clickhouse.command({ query: rankerExamplesDdl(config.clickhouse.database, config.ranker.examplesTable) });
  } finally {
    await clickhouse.close();
  }
  logger.info({ topics: allTopics(config), eventSchemaIds, feedSchemaIds, itemSchemaId }, 'provisioned');
  return { eventSchemaIds, feedSchemaIds, itemSchemaId };
}
