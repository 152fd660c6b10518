// Retcon end to end on the real services: ledger in ClickHouse, catalogue in Redis, an ALS model trained from the
// ledger, then the retcon job (read ledger counts + catalogue, fit the content map, embed every item, build the HNSW
// index in a child process, announce). Two data sets:
//   ml-latest-small  ratings as clicks, movies.csv as the catalogue (title, genres, year)
//   generated        a 1M-item catalogue (category, brand, price, title words, all tied to planted topics) of which only
//                    the `--warm` most popular items have interactions: the rest enter by their content embedding
// Ledger and catalogue are written directly (this measures retcon, not ingestion: see bench:ledger for that). After the
// 1M build it loads the index and measures ANN query latency with user vectors. Prints JSON.
//   npm run bench:retcon -- [--items 1000000] [--warm 50000] [--users 50000] [--interactions 500000] [--skip-generated]
//     [--out file]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { CatalogItem } from '../core/catalog.ts';
import { loadConfig } from '../config/config.ts';
import type { InteractionEvent } from '../core/events.ts';
import { loadMovieLens } from '../datasets/movielens.ts';
import { loadMovieLensCatalog } from '../datasets/movielens-catalog.ts';
import { ensureServices } from '../infra/local/services.ts';
import { trainTenantAls } from '../jobs/als-training.ts';
import { retconTenant, type RetconDeps } from '../jobs/retcon.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createClickHouse, ensureDatabase } from '../platform/clickhouse.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { applyCatalogItems } from '../state/catalog.ts';
import { LedgerWriter } from '../processors/ledger-writer.ts';
import { insertLedgerRows, toLedgerRow, type LedgerRow } from '../state/ledger.ts';
import { dropTable } from '../state/tables.ts';
import { deleteTenantKeys } from '../state/tenants.ts';
import { LoadedIndex } from '../state/index-snapshots.ts';
import { syntheticCatalogue } from '../test/support/synthetic-catalogue.ts';
import { syntheticLog } from '../test/support/synthetic-interactions.ts';
import { machine, printReport, quantile } from '../test/support/bench-report.ts';
import { consumedRecord } from '../test/support/consumed-records.ts';

const opts = new Command('bench:retcon')
  .option('--movielens <dir>', 'ml-latest-small directory', '../shared/datasets/ml-latest-small')
  .option('--items <n>', 'generated catalogue size', (v) => Number(v), 1_000_000)
  .option('--warm <n>', 'generated items with interactions', (v) => Number(v), 50_000)
  .option('--users <n>', 'generated users', (v) => Number(v), 50_000)
  .option('--interactions <n>', 'generated interactions', (v) => Number(v), 500_000)
  .option('--skip-generated', 'only ml-latest-small', false)
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{
    movielens: string;
    items: number;
    warm: number;
    users: number;
    interactions: number;
    skipGenerated: boolean;
    out?: string;
  }>();
const progress = (m: string) => process.stderr.write(`bench:retcon: ${m}\n`);

const run = Date.now().toString(36);
const artifactsDir = mkdtempSync(join(tmpdir(), 'rs-bench-retcon-'));
const config = loadConfig({
  ...process.env,
  RANKSTREAM_LOG_LEVEL: 'warn',
  ARTIFACTS_DIR: artifactsDir,
  LEDGER_TABLE: `ledger_bench_${run}`,
});
const logger = createLogger('warn', 'bench');
await ensureServices({ log: (l: string) => progress(`infra: ${l}`) });
await ensureDatabase(config);
const redis = createRedis(config);
const clickhouse = createClickHouse(config);
const artifacts = new ArtifactStore(artifactsDir);
const models = new AlsModelStore(redis, artifacts);
const deps: RetconDeps = { config, clickhouse, redis, models, artifacts, logger };
const ledger = new LedgerWriter(clickhouse, config.clickhouse.database, config.ledger.table);
await ledger.ensureTable();

async function writeLedger(events: Iterable<InteractionEvent>): Promise<number> {
  let batch: LedgerRow[] = [];
  let n = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await insertLedgerRows(clickhouse, config.clickhouse.database, config.ledger.table, batch);
    batch = [];
  };
  for (const e of events) {
    batch.push(toLedgerRow(consumedRecord(e, n++), Date.now()));
    if (batch.length === 50_000) await flush();
  }
  await flush();
  return n;
}

async function writeCatalog(items: Iterable<CatalogItem>): Promise<number> {
  let batch: CatalogItem[] = [];
  let n = 0;
  for (const it of items) {
    batch.push(it);
    n++;
    if (batch.length === 5_000) {
      await applyCatalogItems(redis, batch);
      batch = [];
    }
  }
  await applyCatalogItems(redis, batch);
  return n;
}

async function retconCase(tenant: string) {
  progress(`${tenant}: training ALS from the ledger`);
  const trained = await trainTenantAls(
    { config, clickhouse, models, scalerVersion: async () => null, logger },
    { tenant },
  );
  progress(`${tenant}: retcon`);
  const rssBefore = process.memoryUsage().rss;
  const { manifest, result } = await retconTenant(deps, { tenant });
  return {
    manifest,
    result,
    alsTrainSeconds: trained.result.trainSeconds,
    rssMiB: Math.round(Math.max(rssBefore, process.memoryUsage().rss) / 2 ** 20),
  };
}

// 1. ml-latest-small
const mlTenant = `bench-retcon-ml-${run}`;
progress('ml-latest-small: ledger and catalogue');
const ml = loadMovieLens(opts.movielens);
const mlUsers = Array.from(ml.userIds, String);
const mlItems = Array.from(ml.movieIds, String);
function* mlEvents(): Generator<InteractionEvent> {
  for (let r = 0; r < ml.log.user.length; r++) {
    yield {
      type: 'click',
      eventId: `m${r}`,
      tenant: mlTenant,
      userId: mlUsers[ml.log.user[r]!]!,
      itemId: mlItems[ml.log.item[r]!]!,
      timestamp: ml.log.time[r]! * 1000,
      context: {},
      recommendationId: null,
    };
  }
}
const mlEventCount = await writeLedger(mlEvents());
const mlCatalogCount = await writeCatalog(loadMovieLensCatalog(opts.movielens, mlTenant, Date.now()).items);
const mlCase = await retconCase(mlTenant);

// 2. the generated 1M-item catalogue
let generated: Record<string, unknown> | null = null;
if (!opts.skipGenerated) {
  const tenant = `bench-retcon-gen-${run}`;
  const topics = 64;
  progress(`generated: ${opts.interactions} interactions over ${opts.warm} warm items`);
  const log = syntheticLog({
    users: opts.users,
    items: opts.warm,
    interactions: opts.interactions,
    topics,
    zipf: 1,
    focus: 0.8,
    negativeShare: 0,
    seed: 11,
  });
  const t0 = Date.UTC(2026, 0, 1);
  function* genEvents(): Generator<InteractionEvent> {
    for (let k = 0; k < log.users.length; k++) {
      yield {
        type: 'click',
        eventId: `g${k}`,
        tenant,
        userId: `u${log.users[k]}`,
        itemId: `i${log.items[k]}`,
        timestamp: t0 + k * 1000,
        context: {},
        recommendationId: null,
      };
    }
  }
  const events = await writeLedger(genEvents());
  progress(`generated: writing a catalogue of ${opts.items} items to Redis`);
  const catalogStart = performance.now();
  const catalogCount = await writeCatalog(syntheticCatalogue(tenant, opts.items, topics, t0));
  const catalogSeconds = (performance.now() - catalogStart) / 1000;
  const c = await retconCase(tenant);
  progress('generated: ANN query latency on the built index');
  const index = await LoadedIndex.load(artifactsDir, tenant, c.manifest.version);
  const model = (await models.current(tenant, 0))!;
  const userVectors = await models.userVectors(
    tenant,
    model.version,
    Array.from({ length: 1000 }, (_, u) => `u${u * Math.floor(opts.users / 1000)}`),
  );
  const latencies: number[] = [];
  for (const v of userVectors.values()) {
    const start = performance.now();
    index.nearest(v, 500);
    latencies.push(performance.now() - start);
  }
  generated = {
    catalogue: { items: catalogCount, warm: opts.warm, writeSeconds: +catalogSeconds.toFixed(1) },
    ledgerEvents: events,
    alsTrainSeconds: +c.alsTrainSeconds.toFixed(1),
    retcon: c.result,
    retconRssMiB: c.rssMiB,
    index: {
      count: c.manifest.count,
      dim: c.manifest.dim,
      bytes: c.manifest.files.index.bytes,
      buildSeconds: +c.manifest.buildSeconds.toFixed(1),
    },
    annQuery500: {
      queries: latencies.length,
      p50Ms: +quantile(latencies, 0.5).toFixed(3),
      p99Ms: +quantile(latencies, 0.99).toFixed(3),
    },
  };
}

progress('cleaning up');
await dropTable(clickhouse, config.clickhouse.database, config.ledger.table);
for (const tenant of [mlTenant, `bench-retcon-gen-${run}`]) {
  await deleteTenantKeys(redis, tenant);
}
redis.disconnect();
await clickhouse.close();
rmSync(artifactsDir, { recursive: true, force: true });

printReport(
  {
    benchmark: 'retcon',
    machine: machine(),
    mlLatestSmall: {
      ledgerEvents: mlEventCount,
      catalogue: mlCatalogCount,
      alsTrainSeconds: +mlCase.alsTrainSeconds.toFixed(1),
      retcon: mlCase.result,
      retconRssMiB: mlCase.rssMiB,
    },
    generated,
  },
  opts.out,
);
