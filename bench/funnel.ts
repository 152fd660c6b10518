// Serving latency of the full funnel at catalogue scale: a 1M-item tenant (HNSW index, ALS model, catalogue in Redis,
// real-time features, published FTRL and LambdaMART rankers), feeds of k = 20 over HTTP with a pool of 500 candidates:
// four rails, exact filters with catalogue look-ups, the items' feedback counters, the ranker scoring all 500 (FTRL,
// then LambdaMART), MMR re-ranking and an ε-greedy exploration slot. Vectors are random (this measures time, not
// quality). Prints JSON.
//   npm run bench:funnel -- [--items 1000000] [--seconds 20] [--clients 4] [--out file]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { isolatedEnv } from '../test/support/isolated-env.ts';
import type { InteractionEvent } from '../core/events.ts';
import { FtrlModel } from '../core/models/ftrl.ts';
import { decayParams } from '../core/features/popularity.ts';
import { DENSE_FEATURES, rankingFeatures, withPosition, type RankingContext } from '../core/funnel/ranking-features.ts';
import { trainTreeRanker, type RankerExample } from '../core/models/ranker-training.ts';
import { seededRandom } from '../core/math/seeded-random.ts';
import { ensureServices } from '../infra/local/services.ts';
import { buildSnapshotInChild } from '../jobs/index-build-process.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { applyCatalogItems } from '../state/catalog.ts';
import { FeaturesProcessor } from '../processors/features.ts';
import { RankerStore } from '../state/ranker-models.ts';
import { createApiKey } from '../state/api-keys.ts';
import { announceIndex } from '../state/index-pointers.ts';
import { DEFAULT_INDEX_PARAMS } from '../state/index-snapshots.ts';
import { startReader } from '../apps/reader.ts';
import type { ConsumedRecord } from '../streams/consumer-runner.ts';
import { deprovision } from '../apps/provision.ts';
import { createKafka, ensureTopics } from '../streams/kafka.ts';
import { syntheticCatalogue } from '../test/support/synthetic-catalogue.ts';
import { machine, printReport, quantile } from '../test/support/bench-report.ts';
import { consumedRecord } from '../test/support/consumed-records.ts';
import { sleep, waitUntil } from '../test/support/wait.ts';
import { deleteTenantKeys } from '../state/tenants.ts';

const opts = new Command('bench:funnel')
  .option('--items <n>', 'catalogue size', (v) => Number(v), 1_000_000)
  .option('--users <n>', 'users with vectors and history', (v) => Number(v), 2000)
  .option('--seconds <n>', 'measuring time', (v) => Number(v), 20)
  .option('--clients <n>', 'concurrent HTTP clients', (v) => Number(v), 4)
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ items: number; users: number; seconds: number; clients: number; out?: string }>();
const progress = (m: string) => process.stderr.write(`bench:funnel: ${m}\n`);

const K = 20;
const POOL_FACTOR = 25; // 500 candidates
const run = Date.now().toString(36);
const artifactsDir = mkdtempSync(join(tmpdir(), 'rs-bench-funnel-'));
const config = loadConfig({
  ...process.env,
  RANKSTREAM_LOG_LEVEL: 'warn',
  HTTP_PORT: '0',
  RATE_LIMIT_PER_S: '0', // measures serving, not the per-key limit
  ARTIFACTS_DIR: artifactsDir,
  RERANK_POOL_FACTOR: String(POOL_FACTOR),
  RERANK_MMR_LAMBDA: '0.9',
  EXPLORATION: 'epsilon-greedy',
  EXPLORATION_EPSILON: '0.1',
  EXPLORATION_SLOTS: '1',
  ...isolatedEnv('bench-funnel', run),
});
const logger = createLogger('warn', 'bench');
await ensureServices({ log: (l: string) => progress(`infra: ${l}`) });
const redis = createRedis(config);
const tenant = `bench-funnel-${run}`;
const artifacts = new ArtifactStore(artifactsDir);
const random = seededRandom(1);
const t0 = Date.UTC(2026, 0, 1);
const f = config.als.params.factors;

// 1. an ALS model over the whole catalogue (random vectors), its HNSW index, and the catalogue itself
progress(`ALS model and HNSW index over ${opts.items} items (the build takes minutes)`);
const itemIds = Array.from({ length: opts.items }, (_, i) => `i${i}`);
const userIds = Array.from({ length: opts.users }, (_, u) => `u${u}`);
const itemFactors = Float64Array.from({ length: opts.items * f }, () => (random() - 0.5) * 0.2);
const userFactors = Float64Array.from({ length: opts.users * f }, () => (random() - 0.5) * 0.2);
const models = new AlsModelStore(redis, artifacts);
const als = await models.publish(
  tenant,
  { factors: f, nUsers: opts.users, nItems: opts.items, itemFactors, userFactors },
  userIds,
  itemIds,
  {
    tenant,
    nUsers: opts.users,
    nItems: opts.items,
    interactions: 0,
    params: config.als.params,
    weights: {},
    trainSeconds: 0,
    scalerVersion: null,
  },
);
const buildStart = performance.now();
const index = await buildSnapshotInChild(artifactsDir, {
  partition: tenant,
  itemIds,
  vectors: itemFactors,
  dim: f,
  params: DEFAULT_INDEX_PARAMS,
  sources: { als: als.version },
  transform: 'mips',
});
const buildSeconds = (performance.now() - buildStart) / 1000;
progress(`catalogue of ${opts.items} items`);
let batch = [];
for (const item of syntheticCatalogue(tenant, opts.items, 64, t0)) {
  batch.push(item);
  if (batch.length === 5000) {
    await applyCatalogItems(redis, batch);
    batch = [];
  }
}
await applyCatalogItems(redis, batch);

// 2. real-time features: 20 clicks per user on popular-ish items (seen sets, popularity, trending, recent items)
progress('features from click history');
const fp = config.features;
const features = new FeaturesProcessor(redis, decayParams(fp.halfLifeS, fp.trendingHalfLifeS), fp);
let records: ConsumedRecord<InteractionEvent>[] = [];
let seq = 0;
for (let u = 0; u < opts.users; u++) {
  for (let j = 0; j < 20; j++) {
    const item = `i${Math.floor(random() ** 3 * opts.items)}`;
    const e: InteractionEvent = {
      type: 'click',
      eventId: `f${seq}`,
      tenant,
      userId: userIds[u]!,
      itemId: item,
      timestamp: t0 + seq * 100,
      context: {},
      recommendationId: null,
    };
    records.push(consumedRecord(e, seq++));
  }
  if (records.length >= 5000) {
    await features.process(records);
    records = [];
  }
}
await features.process(records);

// 3. a version of each ranker, trained on synthetic examples of the serving contexts (this measures time, not quality)
progress('ranker versions');
const ranker = new FtrlModel(config.ranker.params);
const sources = ['ann', 'popular', 'trending', 'fresh'];
const examples: RankerExample[] = [];
for (let i = 0; i < 20_000; i++) {
  const shows = Math.floor(random() * 200);
  const ctx: RankingContext = {
    source: sources[i % 4]!,
    poolRank: Math.floor(random() * 500),
    itemId: `i${Math.floor(random() * opts.items)}`,
    category: `c${i % 64}`,
    ageHours: random() * 1000,
    alsScore: random() - 0.5,
    sessionEvents: Math.floor(random() * 20),
    itemShows: shows,
    itemClicks: Math.floor(shows * random() * 0.1),
  };
  const position = i % 20;
  const clicked = random() < 0.05 + (ctx.source === 'ann' ? 0.05 : 0);
  ranker.update(withPosition(rankingFeatures(ctx), position), clicked ? 1 : 0);
  examples.push({
    recommendationId: `r${Math.floor(i / 20)}`,
    itemId: ctx.itemId,
    impressionMs: t0 + i,
    position,
    context: ctx,
    clicked,
    converted: false,
  });
}
const rankers = new RankerStore(redis, artifacts);
const rankerVersion = await rankers.publish(tenant, ranker);
const tree = trainTreeRanker(examples, config.ranker.lambdamart, { holdoutShare: 0.2, minQueries: 10 });
const treeVersion = await rankers.publishTree(tenant, tree.model, {
  ...tree.report,
  trainSeconds: 0,
  features: DENSE_FEATURES,
});

// 4. the reader, loaded; then clients
await ensureTopics(
  createKafka(config, logger),
  [config.topics.feedRequests, config.topics.feedRequestsDlq, config.topics.feeds],
  1,
);
const reader = await startReader(config, logger, createMetrics(false), { groupId: `bench-funnel-${run}`, port: 0 });
const key = await createApiKey(redis, tenant);
await announceIndex(redis, { partition: tenant, version: index.version });
await waitUntil(() => reader.indexes.get(tenant)?.manifest.version === index.version, {
  timeoutMs: Infinity,
  intervalMs: 200,
});
const probe = (await (
  await fetch(`${reader.url}/v1/feeds/u1?k=${K}&explain=true`, { headers: { authorization: `Bearer ${key}` } })
).json()) as { rankerVersion: string; indexVersion: string; items: { propensity: number; explanation?: unknown }[] };
progress(`probe: ranker ${probe.rankerVersion}, index ${probe.indexVersion}, ${probe.items.length} items`);

async function measure(
  label: string,
): Promise<{ requests: number; failed: number; p50Ms: number; p99Ms: number; rps: number }> {
  const samples: { ms: number; status: number }[] = [];
  let stop = false;
  async function client(seed: number): Promise<void> {
    let s = seed;
    while (!stop) {
      s = (s * 1664525 + 1013904223) >>> 0;
      const t = performance.now();
      const res = await fetch(`${reader.url}/v1/feeds/${userIds[s % userIds.length]}?k=${K}`, {
        headers: { authorization: `Bearer ${key}` },
      });
      await res.arrayBuffer();
      samples.push({ ms: performance.now() - t, status: res.status });
    }
  }
  progress(`${label}: measuring for ${opts.seconds} s with ${opts.clients} clients`);
  const warm = Array.from({ length: opts.clients }, (_, i) => client(100 + i));
  await sleep(3000); // warm-up, discarded
  samples.length = 0;
  const started = performance.now();
  await sleep(opts.seconds * 1000);
  stop = true;
  await Promise.all(warm);
  const seconds = (performance.now() - started) / 1000;
  const ms = samples.map((x) => x.ms);
  return {
    requests: samples.length,
    failed: samples.filter((x) => x.status !== 200).length,
    p50Ms: +quantile(ms, 0.5).toFixed(2),
    p99Ms: +quantile(ms, 0.99).toFixed(2),
    rps: Math.round(samples.length / seconds),
  };
}
const feeds: Record<string, Awaited<ReturnType<typeof measure>>> = { ftrl: await measure('FTRL ranker') };
await rankers.setServing(tenant, 'lambdamart');
await sleep(5_500); // readers re-read the pointers within 5 s
const treeProbe = (await (
  await fetch(`${reader.url}/v1/feeds/u1?k=${K}`, { headers: { authorization: `Bearer ${key}` } })
).json()) as { rankerVersion: string };
feeds.lambdamart = await measure('LambdaMART ranker');
const rss = process.memoryUsage().rss;
await reader.stop();
await deprovision(config, logger);
await deleteTenantKeys(redis, tenant);
redis.disconnect();
rmSync(artifactsDir, { recursive: true, force: true });

printReport(
  {
    benchmark: 'funnel',
    machine: machine(),
    data: {
      items: opts.items,
      users: opts.users,
      factors: f,
      k: K,
      candidates: K * POOL_FACTOR,
      clients: opts.clients,
      indexBuildSeconds: +buildSeconds.toFixed(1),
    },
    stages: {
      rails: ['ann', 'popular', 'trending', 'fresh'],
      rankers: { ftrl: rankerVersion, lambdamart: treeVersion },
      rerank: { mmrLambda: 0.9, exploration: 'epsilon-greedy 0.1, 1 slot' },
    },
    probe: {
      rankerUsed: probe.rankerVersion === rankerVersion,
      treeRankerUsed: treeProbe.rankerVersion === treeVersion,
      indexUsed: probe.indexVersion === index.version,
      items: probe.items.length,
      explained: probe.items.every((i) => i.explanation !== undefined),
    },
    feeds,
    readerProcessRssMiB: Math.round(rss / 2 ** 20),
  },
  opts.out,
);
