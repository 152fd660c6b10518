// Real-time learning figures on the real Redis, printed as JSON:
//  - streaming ALS fold-in latency per event (history updates, user pass, item pass, user pass, vector writes), with a
//    model trained on MovieLens latest-small and users carrying their real rating histories;
//  - Redis memory per user and per item of the real-time features, for N users (default 100k) with a synthetic
//    power-law event stream, measured as the used_memory delta and by MEMORY USAGE of sampled keys.
//   npm run bench:realtime -- [--users 100000] [--events-per-user 10] [--fold-in-events 2000] [--out file]
import { tmpdir } from 'node:os';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import type { InteractionEvent } from '../core/events.ts';
import { DEFAULT_ALS_PARAMS, trainAls } from '../core/models/als.ts';
import { decayParams } from '../core/features/popularity.ts';
import { loadMovieLens } from '../datasets/movielens.ts';
import { ensureServices } from '../infra/local/services.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createRedis, type Redis } from '../platform/redis.ts';
import { AlsFoldInProcessor } from '../processors/als-fold-in.ts';
import { AlsModelStore } from '../state/als-models.ts';
import {
  alsEventMarkerKey,
  alsHistoryKey,
  alsItemHistoryKey,
  featureEventMarkerKey,
  itemCountersKey,
  popularityKey,
  recentKey,
  seenKey,
  sessionItemsKey,
  sessionKey,
  trendingKey,
  userCountersKey,
} from '../state/keys.ts';
import { FeaturesProcessor } from '../processors/features.ts';
import type { ConsumedRecord } from '../streams/consumer-runner.ts';
import { seededRandom } from '../core/math/seeded-random.ts';
import { machine, printReport, quantile } from '../test/support/bench-report.ts';
import { consumedRecord } from '../test/support/consumed-records.ts';
import { ratingMatrix } from '../test/support/rating-matrix.ts';
import { deleteTenantKeys, forgetTenant } from '../state/tenants.ts';

const opts = new Command('bench:realtime')
  .option('--users <n>', 'users for the memory figure', (v) => Number(v), 100_000)
  .option('--events-per-user <n>', 'events per user for the memory figure', (v) => Number(v), 10)
  .option('--items <n>', 'catalogue size for the memory figure', (v) => Number(v), 20_000)
  .option('--fold-in-events <n>', 'events timed one at a time through the fold-in processor', (v) => Number(v), 2000)
  .option('--movielens <dir>', 'ml-latest-small directory', '../shared/datasets/ml-latest-small')
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{
    users: number;
    eventsPerUser: number;
    items: number;
    foldInEvents: number;
    movielens: string;
    out?: string;
  }>();

const config = loadConfig({ ...process.env, RANKSTREAM_LOG_LEVEL: 'warn' });
await ensureServices({ log: (l: string) => console.error(`infra: ${l}`) });
const redis = createRedis(config);
const run = Date.now().toString(36);

const usedMemory = async (r: Redis) => Number(/used_memory:(\d+)/.exec(await r.info('memory'))![1]);

async function deleteTenant(tenant: string): Promise<void> {
  await deleteTenantKeys(redis, tenant);
  await forgetTenant(redis, tenant);
}

async function sampledUsage(pattern: (i: number) => string[], sample: number[]): Promise<number> {
  let total = 0;
  for (const i of sample) for (const key of pattern(i)) total += Number((await redis.memory('USAGE', key)) ?? 0);
  return total / sample.length;
}

// ---- 1. fold-in latency on a MovieLens model
console.error('training ALS on ml-latest-small ...');
const ml = loadMovieLens(opts.movielens);
const R = ratingMatrix(ml.log);
const trainStart = performance.now();
const model = trainAls(R, DEFAULT_ALS_PARAMS);
const trainSeconds = (performance.now() - trainStart) / 1000;
const mlTenant = `bench-ml-${run}`;
const models = new AlsModelStore(redis, new ArtifactStore(mkdtempSync(join(tmpdir(), 'rankstream-bench-'))));
const userIds = Array.from(ml.userIds, String);
const itemIds = Array.from(ml.movieIds, String);
await models.publish(mlTenant, model, userIds, itemIds, {
  tenant: mlTenant,
  nUsers: ml.log.nUsers,
  nItems: ml.log.nItems,
  interactions: R.indices.length,
  params: DEFAULT_ALS_PARAMS,
  weights: {},
  trainSeconds,
  scalerVersion: null,
});
// every user's real rating history, as the fold-in processor would have accumulated it
for (let u = 0; u < ml.log.nUsers; u++) {
  const args: string[] = [];
  for (let k = R.indptr[u]!; k < R.indptr[u + 1]!; k++)
    if (R.values[k] !== 0) args.push(itemIds[R.indices[k]!]!, String(R.values[k]));
  if (args.length > 0) await redis.hset(alsHistoryKey(mlTenant, userIds[u]!), ...args);
}
const foldIn = new AlsFoldInProcessor(redis, models, {
  weights: { impression: 0, click: 1, engagement: 3, conversion: 5 },
  historyMaxItems: config.als.historyMaxItems,
  historyTtlS: 3600,
  dedupeTtlS: 3600,
});
const rand = seededRandom(7);
const latencies: number[] = [];
const historySizes: number[] = [];
for (let i = 0; i < opts.foldInEvents; i++) {
  const u = Math.floor(rand() * ml.log.nUsers);
  const item = itemIds[Math.floor(rand() * itemIds.length)]!;
  historySizes.push(R.indptr[u + 1]! - R.indptr[u]!);
  const e: InteractionEvent = {
    type: 'click',
    eventId: `fold-${run}-${i}`,
    tenant: mlTenant,
    userId: userIds[u]!,
    itemId: item,
    timestamp: Date.now(),
    context: {},
    recommendationId: null,
  };
  const t = performance.now();
  await foldIn.process([consumedRecord(e, i)]);
  latencies.push(performance.now() - t);
}
const computeUs = foldIn.solveSeconds.map((s) => s * 1e6);
await deleteTenant(mlTenant);

// ---- 2. memory per user and per item
const memTenant = `bench-mem-${run}`;
const f = config.features;
const features = new FeaturesProcessor(redis, decayParams(f.halfLifeS, f.trendingHalfLifeS), f);
const historyOnly = new AlsFoldInProcessor(redis, models, {
  weights: { impression: 0, click: 1, engagement: 3, conversion: 5 },
  historyMaxItems: config.als.historyMaxItems,
  historyTtlS: 3600,
  dedupeTtlS: f.dedupeTtlS,
});
const before = await usedMemory(redis);
const total = opts.users * opts.eventsPerUser;
const t0 = Date.UTC(2026, 0, 1);
const mrand = seededRandom(11);
let batch: ConsumedRecord<InteractionEvent>[] = [];
const memStart = performance.now();
for (let n = 0; n < total; n++) {
  const user = `u${n % opts.users}`;
  const item = `i${Math.floor(mrand() ** 3 * opts.items)}`; // power law: a few items take most events
  const r = mrand();
  const base = {
    eventId: `m-${n}`,
    tenant: memTenant,
    userId: user,
    itemId: item,
    timestamp: t0 + Math.floor((n / total) * 86_400_000),
    context: { category: `c${Math.floor(mrand() * 50)}` },
  };
  const e: InteractionEvent =
    r < 0.7
      ? { ...base, type: 'impression', recommendationId: 'r', position: n % 10, feedId: 'home' }
      : r < 0.95
        ? { ...base, type: 'click', recommendationId: null }
        : { ...base, type: 'conversion', value: 1, recommendationId: null };
  batch.push(consumedRecord(e, n));
  if (batch.length === 5000) {
    await features.process(batch);
    await historyOnly.process(batch);
    batch = [];
    if (n % 100_000 < 5000) console.error(`memory run: ${n + 1}/${total} events`);
  }
}
if (batch.length > 0) {
  await features.process(batch);
  await historyOnly.process(batch);
}
const applySeconds = (performance.now() - memStart) / 1000;
const after = await usedMemory(redis);
const sampleUsers = Array.from({ length: 500 }, (_, i) => Math.floor((i * opts.users) / 500));
const perUserKeys = await sampledUsage(
  (i) => [
    seenKey(memTenant, `u${i}`),
    recentKey(memTenant, `u${i}`),
    sessionKey(memTenant, `u${i}`),
    sessionItemsKey(memTenant, `u${i}`),
    userCountersKey(memTenant, `u${i}`),
    alsHistoryKey(memTenant, `u${i}`),
  ],
  sampleUsers,
);
const sampleItems = Array.from({ length: 500 }, (_, i) => Math.floor((i * opts.items) / 500));
const perItemCounters = await sampledUsage((i) => [itemCountersKey(memTenant, `i${i}`)], sampleItems);
const perItemHistory = await sampledUsage((i) => [alsItemHistoryKey(memTenant, `i${i}`)], sampleItems);
const markerBytes = await sampledUsage(
  (i) => [featureEventMarkerKey(memTenant, `m-${i}`), alsEventMarkerKey(memTenant, `m-${i}`)],
  sampleUsers,
);
const sortedSets =
  Number((await redis.memory('USAGE', popularityKey(memTenant))) ?? 0) +
  Number((await redis.memory('USAGE', trendingKey(memTenant))) ?? 0);
const distinctItems = await redis.zcard(popularityKey(memTenant));
await deleteTenant(memTenant);

printReport(
  {
    benchmark: 'realtime',
    machine: machine(),
    foldIn: {
      model: {
        data: 'ml-latest-small',
        users: ml.log.nUsers,
        items: ml.log.nItems,
        factors: DEFAULT_ALS_PARAMS.factors,
        trainSeconds: +trainSeconds.toFixed(2),
      },
      events: opts.foldInEvents,
      historySize: { p50: quantile(historySizes, 0.5), p99: quantile(historySizes, 0.99) },
      perEventMs: {
        p50: +quantile(latencies, 0.5).toFixed(3),
        p99: +quantile(latencies, 0.99).toFixed(3),
        mean: +(latencies.reduce((a, b) => a + b, 0) / latencies.length).toFixed(3),
      },
      passesPerEventUs: { p50: +quantile(computeUs, 0.5).toFixed(1), p99: +quantile(computeUs, 0.99).toFixed(1) },
    },
    memory: {
      users: opts.users,
      eventsPerUser: opts.eventsPerUser,
      events: total,
      distinctItems,
      applySeconds: +applySeconds.toFixed(1),
      eventsPerSec: Math.round(total / applySeconds),
      usedMemoryDeltaMiB: +((after - before) / 2 ** 20).toFixed(1),
      usedMemoryDeltaPer100kUsersMiB: +((((after - before) / opts.users) * 100_000) / 2 ** 20).toFixed(1),
      perUserBytes: { userKeys: Math.round(perUserKeys), dedupeMarkersPerEvent: Math.round(markerBytes / 2) },
      perItemBytes: {
        counters: Math.round(perItemCounters),
        alsHistory: Math.round(perItemHistory),
        popularityAndTrendingEntries: Math.round(sortedSets / Math.max(1, distinctItems)),
      },
      note: 'used_memory delta includes per-event de-duplication markers (TTL DEDUPE_TTL_S) and all item keys; perUserBytes.userKeys is the steady-state cost of a user once markers expire',
    },
  },
  opts.out,
);
redis.disconnect();
