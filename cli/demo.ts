// The main job, end to end on the real services: bring up the local infra if needed, provision topics/schemas/tables,
// start the processors and the reader, produce the item catalogue derived from a real event log, replay that log through
// Kafka, wait until every processor has caught up, then ask for feeds over Kafka and HTTP and print a summary.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { InteractionEvent } from '../core/events.ts';
import { loadConfig, type Config } from '../config/config.ts';
import { ensureServices } from '../infra/local/services.ts';
import { provision } from '../apps/provision.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createLogger, type Logger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createRedis } from '../platform/redis.ts';
import { trainTenantAls } from '../jobs/als-training.ts';
import { retconTenant, type RetconResult } from '../jobs/retcon.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { catalogSize } from '../state/catalog.ts';
import { countReplayedLedgerRows } from '../state/ledger.ts';
import { currentScalerVersion } from '../state/scaler-versions.ts';
import { deleteTenantKeys, forgetTenant } from '../state/tenants.ts';
import { startProcessors } from '../apps/processors.ts';
import { decodeFeed, registerFeedSchemas, type FeedRecord } from '../schemas/feed-codec.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { startReader } from '../apps/reader.ts';
import { EventProducer } from '../streams/event-producer.ts';
import { ItemProducer } from '../streams/item-producer.ts';
import { createKafka, createProducer } from '../streams/kafka.ts';
import { topicEndOffsetTotal, waitForCaughtUp } from '../streams/offsets.ts';
import { readTaobaoCatalog } from '../datasets/taobao-catalog.ts';
import { readTaobaoLog } from '../datasets/taobao.ts';

interface Options {
  log: string;
  tenant: string;
  users: number;
  k: number;
  limit?: number;
  poison: number;
  batch: number;
  als: boolean;
}

const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer`);
  return n;
};

async function main(): Promise<void> {
  const config = loadConfig({ RANKSTREAM_LOG_LEVEL: 'warn', ...process.env });
  const program = new Command('demo')
    .description('Replay a real event log through rankstream and print ranked feeds.')
    .option('--log <path>', 'Taobao UserBehavior.csv to replay', config.demo.logPath)
    .option('--tenant <id>', 'tenant the events belong to', config.demo.tenant)
    .option('--users <n>', 'how many of the most active users get a feed', positive('--users'), 3)
    .option('-k, --k <n>', 'items per feed', positive('-k'), 10)
    .option('--limit <n>', 'replay only the first n lines', positive('--limit'))
    .option('--poison <n>', 'also send n corrupt messages to show the dead-letter path', positive('--poison'), 0)
    .option('--batch <n>', 'events per produce call', positive('--batch'), 2000)
    .option('--no-als', 'skip training ALS from the ledger (feeds then come from popularity)')
    .parse();
  const opts = program.opts<Options>();
  if (!existsSync(opts.log)) {
    console.error(`demo: event log not found at ${opts.log} (pass --log <path> or set DEMO_LOG_PATH)`);
    process.exit(2);
  }
  const logger = createLogger(config.logLevel, 'demo');
  const started = Date.now();

  const infra = await ensureServices({ log: (line: string) => console.log(`infra: ${line}`) });
  console.log(
    infra.startedByUs.length > 0
      ? `started local services: ${infra.startedByUs.join(', ')}`
      : 'services already reachable',
  );
  await provision(config, logger);
  await resetTenantState(config, opts.tenant);

  const kafka = createKafka(config, logger);
  const admin = kafka.admin();
  await admin.connect();
  const dlqBefore = await topicEndOffsetTotal(admin, config.topics.eventsDlq);
  const itemsDlqBefore = await topicEndOffsetTotal(admin, config.topics.itemsDlq);
  const metrics = createMetrics(false);
  const processors = await startProcessors(config, logger, metrics);
  const reader = await startReader(config, logger, metrics);
  const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  const producer = await EventProducer.connect(kafka, registry, config.topics.events);

  // 1. the catalogue derived from the same lines (item -> category, first-seen time), ahead of the events about it
  const catalogStart = Date.now();
  const catalog = await readTaobaoCatalog(opts.log, opts.tenant, Date.now(), opts.limit);
  const itemProducer = await ItemProducer.connect(kafka, registry, config.topics.items);
  for (let i = 0; i < catalog.items.length; i += opts.batch)
    await itemProducer.send(catalog.items.slice(i, i + opts.batch));
  await itemProducer.disconnect();
  console.log(
    `produced ${catalog.items.length} catalogue items in ${((Date.now() - catalogStart) / 1000).toFixed(1)} s`,
  );

  // 2. replay the log
  const replayStart = Date.now();
  const activity = new Map<string, number>();
  let read = 0;
  let lastLine = 0;
  let accepted = 0;
  const rejected: { line: number; reason: string }[] = [];
  let pending: InteractionEvent[] = [];
  for await (const parsed of readTaobaoLog(opts.log, opts.tenant)) {
    if (opts.limit !== undefined && read >= opts.limit) break;
    read++;
    lastLine = parsed.line;
    if (!parsed.ok) {
      rejected.push({ line: parsed.line, reason: parsed.reason });
      continue;
    }
    pending.push(parsed.event);
    activity.set(parsed.event.userId, (activity.get(parsed.event.userId) ?? 0) + 1);
    if (pending.length >= opts.batch) {
      await producer.send(pending);
      accepted += pending.length;
      pending = [];
    }
  }
  await producer.send(pending);
  accepted += pending.length;
  if (opts.poison > 0) await sendPoison(kafka, config.topics.events, opts.poison);
  const replayMs = Date.now() - replayStart;
  console.log(
    `replayed ${accepted} events in ${(replayMs / 1000).toFixed(1)} s (${Math.round(accepted / (replayMs / 1000))}/s produced)`,
  );

  // 3. wait for the processors, the ledger and the catalogue
  await waitForCaughtUp(
    admin,
    ['ledger-writer', 'features', 'scaler', 'als-fold-in'].map((p) => `${config.runner.groupPrefix}-${p}`),
    config.topics.events,
    300_000,
  );
  await waitForCaughtUp(admin, [`${config.runner.groupPrefix}-catalog`], config.topics.items, 300_000);
  const clickhouse = createClickHouse(config);
  // ledger rows (FINAL: one per event id) of this replay: event ids are <file>:<line>, so earlier replays of other
  // line ranges, or of other files, do not count
  const ledgerRows = await countReplayedLedgerRows(
    clickhouse,
    config.clickhouse.database,
    config.ledger.table,
    opts.tenant,
    basename(opts.log),
    lastLine,
  );
  await clickhouse.close();
  const processedMs = Date.now() - replayStart;
  const dlqCount = Number((await topicEndOffsetTotal(admin, config.topics.eventsDlq)) - dlqBefore);
  const itemsDlqCount = Number((await topicEndOffsetTotal(admin, config.topics.itemsDlq)) - itemsDlqBefore);
  const catalogRedis = createRedis(config);
  const catalogRedisItems = await catalogSize(catalogRedis, opts.tenant).finally(() => catalogRedis.disconnect());

  // 4. train ALS from the ledger: feeds become personal, and fold-in keeps user vectors current from here on
  // then retcon: every catalogue item re-embedded into a fresh HNSW index the reader hot-swaps to
  let als: { version: string; nUsers: number; nItems: number; trainSeconds: number } | null = null;
  let retcon: RetconResult | null = null;
  if (opts.als) {
    const redis = createRedis(config);
    const ch = createClickHouse(config);
    try {
      const artifacts = new ArtifactStore(config.artifactsDir);
      const models = new AlsModelStore(redis, artifacts);
      const deps = {
        config,
        clickhouse: ch,
        models,
        scalerVersion: (t: string) => currentScalerVersion(redis, t),
        logger,
      };
      als = (await trainTenantAls(deps, { tenant: opts.tenant })).result;
      console.log(
        `trained ALS ${als.version}: ${als.nUsers} users x ${als.nItems} items in ${als.trainSeconds.toFixed(1)} s`,
      );
      retcon = (
        await retconTenant({ config, clickhouse: ch, redis, models, artifacts, logger }, { tenant: opts.tenant })
      ).result;
      console.log(
        `retcon built ${retcon.version}: ${retcon.indexedItems} items (${JSON.stringify(retcon.embeddings)}) in ${retcon.seconds.toFixed(1)} s`,
      );
      const deadline = Date.now() + 60_000;
      while (reader.indexes.get(opts.tenant)?.manifest.version !== retcon.version && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
    } finally {
      await ch.close();
      redis.disconnect();
    }
  }

  // 5. feeds for the most active users, over Kafka and HTTP
  const users = [...activity.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, opts.users)
    .map(([u]) => u);
  const feeds = await requestFeedsOverKafka(config, logger, registry, opts.tenant, users, opts.k);
  for (const f of feeds) {
    console.log(
      `\nfeed for user ${f.userId} (${activity.get(f.userId)} events; recommendation ${f.recommendationId}; ${f.modelVersion}/${f.indexVersion}):`,
    );
    if (f.status !== 'ok') console.log(`  ${f.status}: ${f.error}`);
    f.items.forEach((it, i) =>
      console.log(
        `  ${String(i + 1).padStart(2)}. item ${it.itemId.padEnd(10)} ${it.source.padEnd(8)} score ${it.score.toPrecision(3)}`,
      ),
    );
  }
  const httpUser = users[0];
  const httpStatus = httpUser
    ? (await fetch(`${reader.url}/v1/feeds/${encodeURIComponent(httpUser)}?tenant=${opts.tenant}&k=${opts.k}`)).status
    : 0;

  const summary = {
    log: opts.log,
    tenant: opts.tenant,
    linesRead: read,
    rejectedAtSource: rejected.length,
    eventsAccepted: accepted,
    ledgerRows,
    ledgerMatchesAccepted: ledgerRows === accepted,
    dlqRecords: dlqCount,
    catalogItemsProduced: catalog.items.length,
    catalogItemsRejected: catalog.rejectedItems.length,
    catalogRedisItems,
    catalogMatchesProduced: catalogRedisItems === catalog.items.length,
    itemsDlqRecords: itemsDlqCount,
    feedsOut: feeds.length,
    httpFeedStatus: httpStatus,
    replaySeconds: +(replayMs / 1000).toFixed(2),
    processedSeconds: +(processedMs / 1000).toFixed(2),
    alsModel: als
      ? { version: als.version, users: als.nUsers, items: als.nItems, trainSeconds: +als.trainSeconds.toFixed(2) }
      : null,
    retcon: retcon
      ? {
          index: retcon.version,
          items: retcon.indexedItems,
          embeddings: retcon.embeddings,
          contentMap: retcon.contentMap,
          contentMapRejected: retcon.contentMapRejected,
          seconds: +retcon.seconds.toFixed(2),
        }
      : null,
    feedIndexVersions: [...new Set(feeds.map((f) => f.indexVersion))],
    elapsedSeconds: +((Date.now() - started) / 1000).toFixed(2),
  };
  if (rejected.length > 0)
    console.log(
      `\nrejected at source (not sent): ${rejected
        .slice(0, 5)
        .map((r) => `line ${r.line}: ${r.reason}`)
        .join('; ')}`,
    );
  console.log('\nsummary:');
  console.log(JSON.stringify(summary, null, 2));
  console.log(
    `\nthe reader at ${reader.url} stops with the demo (npm run serve runs one); the services keep running (npm run infra -- down stops them).`,
  );

  await producer.disconnect();
  await reader.stop();
  await processors.stop();
  await admin.disconnect();
  if (!summary.ledgerMatchesAccepted) process.exitCode = 1;
}

/** Clears the tenant's real-time state (every key with its hash tag) so the demo's figures reflect this replay only. */
async function resetTenantState(config: Config, tenant: string): Promise<void> {
  const redis = createRedis(config);
  try {
    await deleteTenantKeys(redis, tenant);
    await forgetTenant(redis, tenant);
  } finally {
    redis.disconnect();
  }
}

async function sendPoison(kafka: ReturnType<typeof createKafka>, topic: string, n: number): Promise<void> {
  const producer = createProducer(kafka);
  await producer.connect();
  const junk = [Buffer.from('not avro at all'), Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3])];
  await producer.send({
    topic,
    messages: Array.from({ length: n }, (_, i) => ({ key: `poison-${i}`, value: junk[i % junk.length]! })),
  });
  await producer.disconnect();
}

async function requestFeedsOverKafka(
  config: Config,
  logger: Logger,
  registry: SchemaRegistryClient,
  tenant: string,
  users: string[],
  k: number,
): Promise<FeedRecord[]> {
  const kafka = createKafka(config, logger, 'rankstream-demo-feeds');
  const ids = await registerFeedSchemas(registry, config.topics.feedRequests, config.topics.feeds);
  const wanted = new Map<string, string>(users.map((u) => [randomUUID(), u]));
  const got = new Map<string, FeedRecord>();
  const consumer = kafka.consumer({ groupId: `rankstream-demo-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: config.topics.feeds, fromBeginning: true });
  let resolveAll!: () => void;
  const allIn = new Promise<void>((r) => (resolveAll = r));
  await consumer.run({
    eachMessage: async ({ message }) => {
      const feed = await decodeFeed(registry, message.value);
      if (wanted.has(feed.requestId)) got.set(feed.requestId, feed);
      if (got.size === wanted.size) resolveAll();
    },
  });
  const producer = createProducer(kafka);
  await producer.connect();
  const messages = [];
  for (const [requestId, userId] of wanted) {
    messages.push({
      key: `${tenant}/${userId}`,
      value: await registry.encode(ids.request, { requestId, tenant, userId, k, exclude: [], timestamp: Date.now() }),
    });
  }
  await producer.send({ topic: config.topics.feedRequests, acks: -1, messages });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error('no feed answers within 60 s')), 60_000).unref(),
  );
  try {
    await Promise.race([allIn, timeout]);
  } finally {
    await producer.disconnect();
    await consumer.disconnect();
  }
  return users.map((u) => [...got.values()].find((f) => f.userId === u)!).filter(Boolean);
}

main().catch((err: unknown) => {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
