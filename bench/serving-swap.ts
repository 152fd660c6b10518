// Serving latency of full feed requests over HTTP (API key -> tenant, features, ALS vector, HNSW retrieval, filters),
// in steady state and while the reader hot-swaps to a new index version built meanwhile in a child process. Data:
// MovieLens latest-small ratings as click events through the real features processor, an ALS model trained on them.
// Prints JSON.   npm run bench:swap -- [--seconds 10] [--clients 4] [--out file]
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { isolatedEnv } from '../test/support/isolated-env.ts';
import type { InteractionEvent } from '../core/events.ts';
import { DEFAULT_ALS_PARAMS, trainAls } from '../core/models/als.ts';
import { decayParams } from '../core/features/popularity.ts';
import { loadMovieLens } from '../datasets/movielens.ts';
import { ensureServices } from '../infra/local/services.ts';
import { buildSnapshotInChild } from '../jobs/index-build-process.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { FeaturesProcessor } from '../processors/features.ts';
import { createApiKey } from '../state/api-keys.ts';
import { announceIndex } from '../state/index-pointers.ts';
import { DEFAULT_INDEX_PARAMS } from '../state/index-snapshots.ts';
import { startReader } from '../apps/reader.ts';
import type { ConsumedRecord } from '../streams/consumer-runner.ts';
import { deprovision } from '../apps/provision.ts';
import { createKafka, ensureTopics } from '../streams/kafka.ts';
import { machine, printReport, quantile } from '../test/support/bench-report.ts';
import { consumedRecord } from '../test/support/consumed-records.ts';
import { ratingMatrix } from '../test/support/rating-matrix.ts';
import { sleep, waitUntil } from '../test/support/wait.ts';
import { deleteTenantKeys } from '../state/tenants.ts';

const opts = new Command('bench:swap')
  .option('--movielens <dir>', 'ml-latest-small directory', '../shared/datasets/ml-latest-small')
  .option('--seconds <n>', 'steady-state measuring time', (v) => Number(v), 10)
  .option('--clients <n>', 'concurrent HTTP clients', (v) => Number(v), 4)
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ movielens: string; seconds: number; clients: number; out?: string }>();
const progress = (m: string) => process.stderr.write(`bench:swap: ${m}\n`);

const run = Date.now().toString(36);
const artifactsDir = mkdtempSync(join(tmpdir(), 'rs-bench-swap-'));
const config = loadConfig({
  ...process.env,
  RANKSTREAM_LOG_LEVEL: 'warn',
  HTTP_PORT: '0',
  RATE_LIMIT_PER_S: '0', // measures serving, not the per-key limit
  ARTIFACTS_DIR: artifactsDir,
  // its own request topics, so the reader does not pick up other runs' feed requests
  ...isolatedEnv('bench-swap', run),
});
const logger = createLogger('warn', 'bench');
await ensureServices({ log: (l: string) => progress(`infra: ${l}`) });
const redis = createRedis(config);
const tenant = `bench-swap-${run}`;

// 1. state: features from the ratings, an ALS model, a first index
progress('loading ml-latest-small into the features store');
const ml = loadMovieLens(opts.movielens);
const f = config.features;
const features = new FeaturesProcessor(redis, decayParams(f.halfLifeS, f.trendingHalfLifeS), f);
const userIds = Array.from(ml.userIds, String);
const itemIds = Array.from(ml.movieIds, String);
let batch: ConsumedRecord<InteractionEvent>[] = [];
for (let r = 0; r < ml.log.user.length; r++) {
  const e: InteractionEvent = {
    type: 'click',
    eventId: `m${r}`,
    tenant,
    userId: userIds[ml.log.user[r]!]!,
    itemId: itemIds[ml.log.item[r]!]!,
    timestamp: ml.log.time[r]! * 1000,
    context: {},
    recommendationId: null,
  };
  batch.push(consumedRecord(e, r));
  if (batch.length === 5000) {
    await features.process(batch);
    batch = [];
  }
}
await features.process(batch);
progress('training ALS');
const R = ratingMatrix(ml.log);
const model = trainAls(R, DEFAULT_ALS_PARAMS);
const models = new AlsModelStore(redis, new ArtifactStore(artifactsDir));
const published = await models.publish(tenant, model, userIds, itemIds, {
  tenant,
  nUsers: model.nUsers,
  nItems: model.nItems,
  interactions: R.indices.length,
  params: DEFAULT_ALS_PARAMS,
  weights: {},
  trainSeconds: 0,
  scalerVersion: null,
});
const indexInput = (seed: number) => ({
  partition: tenant,
  itemIds,
  vectors: model.itemFactors,
  dim: model.factors,
  params: { ...DEFAULT_INDEX_PARAMS, seed },
  sources: { als: published.version },
  transform: 'mips' as const,
});
const v1 = await buildSnapshotInChild(artifactsDir, indexInput(1));

await ensureTopics(
  createKafka(config, logger),
  [config.topics.feedRequests, config.topics.feedRequestsDlq, config.topics.feeds],
  1,
);
const reader = await startReader(config, logger, createMetrics(false), { groupId: `bench-swap-${run}`, port: 0 });
const key = await createApiKey(redis, tenant);
await announceIndex(redis, { partition: tenant, version: v1.version });
await waitUntil(() => reader.indexes.get(tenant)?.manifest.version === v1.version, {
  timeoutMs: 10_000,
  intervalMs: 100,
});

// 2. load: clients loop over random users, recording latency, status and the index version served
interface Sample {
  ms: number;
  status: number;
  version: string;
  at: number;
}
const samples: Sample[] = [];
let stop = false;
async function client(seed: number): Promise<void> {
  let s = seed;
  while (!stop) {
    s = (s * 1664525 + 1013904223) >>> 0;
    const user = userIds[s % userIds.length]!;
    const t = performance.now();
    const res = await fetch(`${reader.url}/v1/feeds/${user}?k=20`, { headers: { authorization: `Bearer ${key}` } });
    const body = (await res.json()) as { indexVersion?: string };
    samples.push({
      ms: performance.now() - t,
      status: res.status,
      version: body.indexVersion ?? '',
      at: performance.now(),
    });
  }
}
const clients = Array.from({ length: opts.clients }, (_, i) => client(i + 1));
progress(`steady state for ${opts.seconds} s`);
const steadyStart = performance.now();
await sleep(opts.seconds * 1000);
const steadyEnd = performance.now();
progress('building a new index version in a child process, then swapping');
const v2 = await buildSnapshotInChild(artifactsDir, indexInput(2));
await announceIndex(redis, { partition: tenant, version: v2.version });
await waitUntil(() => reader.indexes.get(tenant)?.manifest.version === v2.version, {
  timeoutMs: Infinity,
  intervalMs: 20,
});
const swappedAt = performance.now();
await sleep(2000);
stop = true;
await Promise.all(clients);
await reader.stop();
await deprovision(config, logger);

const window = (from: number, to: number) => samples.filter((x) => x.at >= from && x.at < to);
const stats = (xs: Sample[]) => ({
  requests: xs.length,
  failed: xs.filter((x) => x.status !== 200).length,
  p50Ms: +quantile(
    xs.map((x) => x.ms),
    0.5,
  ).toFixed(2),
  p99Ms: +quantile(
    xs.map((x) => x.ms),
    0.99,
  ).toFixed(2),
  rps: Math.round(xs.length / (((xs.at(-1)?.at ?? 0) - (xs[0]?.at ?? 0)) / 1000 || 1)),
});
const during = window(steadyEnd, swappedAt + 2000);
await deleteTenantKeys(redis, tenant);
redis.disconnect();

printReport(
  {
    benchmark: 'serving-swap',
    machine: machine(),
    data: { users: ml.log.nUsers, items: ml.log.nItems, factors: model.factors, k: 20, clients: opts.clients },
    steady: stats(window(steadyStart, steadyEnd)),
    duringBuildAndSwap: {
      ...stats(during),
      seconds: +((swappedAt + 2000 - steadyEnd) / 1000).toFixed(1),
      versionsServed: [...new Set(during.map((x) => x.version))],
    },
    versions: { before: v1.version, after: v2.version },
    allFailed: samples.filter((x) => x.status !== 200).length,
  },
  opts.out,
);
