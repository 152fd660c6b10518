// The item catalogue from the command line: load a data set's items onto the items topic (MovieLens movies, or the
// items of a Taobao log), delete an item, show what the Redis catalogue holds for one. Loading and deleting go through
// Kafka like any producer; the catalogue processor (npm run process) applies them.
import { Command, InvalidArgumentError } from 'commander';
import type { CatalogItem } from '../core/catalog.ts';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { catalogSize, freshScore, readCatalogItems } from '../state/catalog.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { ItemProducer } from '../streams/item-producer.ts';
import { createKafka, ensureTopics } from '../streams/kafka.ts';
import { waitForCaughtUp } from '../streams/offsets.ts';
import { readTaobaoCatalog } from '../datasets/taobao-catalog.ts';
import { DEFAULT_MOVIELENS_DIR } from '../datasets/movielens.ts';
import { loadMovieLensCatalog } from '../datasets/movielens-catalog.ts';
import { tenantOption } from './options.ts';

const config = loadConfig({ RANKSTREAM_LOG_LEVEL: 'warn', ...process.env });
const logger = createLogger(config.logLevel, 'catalog');

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};

/** Connects a producer to the items topic (created when missing), runs `fn`, disconnects. */
async function withProducer<T>(fn: (producer: ItemProducer) => Promise<T>): Promise<T> {
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, [config.topics.items, config.topics.itemsDlq], config.topics.partitions);
  const producer = await ItemProducer.connect(
    kafka,
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.items,
  );
  try {
    return await fn(producer);
  } finally {
    await producer.disconnect();
  }
}

/** Waits until the catalogue processor has applied everything on the items topic. */
async function waitForCatalogue(timeoutMs: number): Promise<void> {
  const admin = createKafka(config, logger).admin();
  await admin.connect();
  try {
    await waitForCaughtUp(admin, [`${config.runner.groupPrefix}-catalog`], config.topics.items, timeoutMs);
  } finally {
    await admin.disconnect();
  }
}

interface LoadOpts {
  movielens?: string | true;
  taobao?: string | true;
  tenant: string;
  limit?: number;
  batch: number;
  wait: boolean;
}

const program = new Command('catalog').description('The item catalogue: load, delete, show');
program
  .command('load')
  .description("produce a data set's items to the items topic")
  .option('--movielens [dir]', `MovieLens directory (movies.csv, ratings.csv; default ${DEFAULT_MOVIELENS_DIR})`)
  .option('--taobao [csv]', `Taobao UserBehavior.csv (default ${config.demo.logPath})`)
  .requiredOption('--tenant <id>', 'tenant the items belong to', tenantOption)
  .option('--limit <n>', 'Taobao: derive items from the first n lines only', positiveInt('--limit'))
  .option('--batch <n>', 'items per produce call', positiveInt('--batch'), 2000)
  .option('--wait', 'wait until the catalogue processor applied them and print the Redis catalogue size', false)
  .action(async (o: LoadOpts) => {
    if ((o.movielens === undefined) === (o.taobao === undefined))
      throw new InvalidArgumentError('give exactly one of --movielens [dir] and --taobao [csv]');
    const now = Date.now();
    let source: { kind: string; path: string };
    let items: CatalogItem[];
    let rejected: { itemId?: string; line?: number; reason: string }[];
    if (o.movielens !== undefined) {
      source = { kind: 'movielens', path: typeof o.movielens === 'string' ? o.movielens : DEFAULT_MOVIELENS_DIR };
      ({ items, rejected } = loadMovieLensCatalog(source.path, o.tenant, now));
    } else {
      source = { kind: 'taobao', path: typeof o.taobao === 'string' ? o.taobao : config.demo.logPath };
      const read = await readTaobaoCatalog(source.path, o.tenant, now, o.limit);
      items = read.items;
      rejected = [...read.rejectedLines, ...read.rejectedItems];
    }
    await withProducer(async (producer) => {
      for (let i = 0; i < items.length; i += o.batch) await producer.send(items.slice(i, i + o.batch));
    });
    const summary: Record<string, unknown> = {
      source: source.kind,
      path: source.path,
      tenant: o.tenant,
      topic: config.topics.items,
      produced: items.length,
      rejected: rejected.length,
    };
    if (rejected.length > 0) summary.rejectedSample = rejected.slice(0, 5);
    if (o.wait) {
      await waitForCatalogue(300_000);
      const redis = createRedis(config);
      try {
        summary.catalogueSize = await catalogSize(redis, o.tenant);
      } finally {
        redis.disconnect();
      }
    }
    console.log(JSON.stringify(summary, null, 2));
  });

program
  .command('delete')
  .description('produce a deletion of an item (its stored attributes are kept on the record)')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .requiredOption('--item <id>', 'item id')
  .action(async ({ tenant, item }: { tenant: string; item: string }) => {
    const redis = createRedis(config);
    let known: CatalogItem | null;
    try {
      known = (await readCatalogItems(redis, tenant, [item])).get(item) ?? null;
    } finally {
      redis.disconnect();
    }
    const now = Date.now();
    // newer than the stored version, even one stamped ahead of this clock, or the processor would ignore it as stale
    const deletion: CatalogItem = known
      ? { ...known, updatedAt: Math.max(now, known.updatedAt + 1), deleted: true }
      : { tenant, itemId: item, attributes: {}, numeric: {}, createdAt: now, updatedAt: now, deleted: true };
    await withProducer((producer) => producer.send([deletion]));
    if (!known)
      console.error(`note: ${item} is not in ${tenant}'s Redis catalogue (yet); the deletion was sent anyway`);
    console.log(
      JSON.stringify({
        tenant,
        itemId: item,
        deleted: true,
        updatedAt: deletion.updatedAt,
        topic: config.topics.items,
      }),
    );
  });

program
  .command('show')
  .description('print the catalogue record of an item from Redis')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .requiredOption('--item <id>', 'item id')
  .action(async ({ tenant, item }: { tenant: string; item: string }) => {
    const redis = createRedis(config);
    try {
      const record = (await readCatalogItems(redis, tenant, [item])).get(item) ?? null;
      if (!record) throw new Error(`no item ${item} in ${tenant}'s catalogue`);
      const score = await freshScore(redis, tenant, item);
      console.log(
        JSON.stringify(
          {
            ...record,
            createdAtIso: new Date(record.createdAt).toISOString(),
            updatedAtIso: new Date(record.updatedAt).toISOString(),
            inFreshRail: score !== null,
          },
          null,
          2,
        ),
      );
    } finally {
      redis.disconnect();
    }
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`catalog: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
