// Sustained load on the whole stack at once: a producer (child process) offers events at a rate stepped up in stages
// while the stream processors (`cli/process.ts`, child processes) and the reader (`cli/serve.ts`, a child process)
// run with an isolated configuration (own topics, tables, consumer groups, tenant, free ports), and a fixed number of
// feed clients ask for feeds over HTTP throughout. Per stage: offered and achieved produce rate, events/s through each
// processor, consumer lag per group at the stage's start and end, feed p50/p99 and req/s, resident memory and CPU of
// every process; then the saturation point. Then backpressure: the processors again, with Redis and ClickHouse behind
// a latency-injecting proxy while events keep coming (lag grows, memory must not), and the reader with Redis slowed
// under open-loop HTTP load, without and with the in-flight limit (HTTP_MAX_IN_FLIGHT). Prints JSON; removes
// everything it created (topics, tables, groups, schemas, tenant keys, child processes by PID).
//   npm run bench:load -- [--stages 2000,5000,10000,20000,40000] [--stage-seconds 15] [--clients 8] [--no-backpressure]
//     [--out file]
import { setMaxListeners } from 'node:events';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { Admin } from 'kafkajs';
import { loadConfig, type Config } from '../config/config.ts';
import { isolatedEnv } from '../test/support/isolated-env.ts';
import { seededRandom } from '../core/math/seeded-random.ts';
import { ensureServices } from '../infra/local/services.ts';
import { deprovision, provision } from '../apps/provision.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { createApiKey, revokeApiKey, unregisterTenant } from '../state/api-keys.ts';
import { ItemProducer } from '../streams/item-producer.ts';
import { createKafka } from '../streams/kafka.ts';
import { partitionLags } from '../streams/offsets.ts';
import { startLatencyProxy, type LatencyProxy } from '../test/support/latency-proxy.ts';
import type { ProducerCommand, ProducerCounters, ProducerMessage } from './load-producer.ts';
import {
  forkService,
  lagKeepsGrowing,
  mib,
  procSample,
  saturationPoint,
  slope,
  startService,
  waitReady,
  type Service,
} from '../test/support/processes.ts';
import { metricBy, metricSum, scrape, type PromSample } from '../test/support/prometheus.ts';
import { machine, printReport, quantile } from '../test/support/bench-report.ts';
import { sleep, waitUntil } from '../test/support/wait.ts';
import { syntheticCatalogue } from '../test/support/synthetic-catalogue.ts';
import { deleteTenantKeys, forgetTenant } from '../state/tenants.ts';

/** What `npm run process -- --only <names>` accepts: the event processors (one consumer group each) and the catalogue. */
const PROCESSOR_NAMES = ['ledger-writer', 'features', 'scaler', 'als-fold-in', 'ranker-trainer', 'catalog'] as const;
type ProcessorName = (typeof PROCESSOR_NAMES)[number];

const num = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`not a non-negative number: ${v}`);
  return n;
};
const opts = new Command('bench:load')
  .description(
    'Sustained load on producer + processors + reader (child processes), stepped up in stages; then backpressure with a slow Redis/ClickHouse. Prints JSON.',
  )
  .option('--stages <rates>', 'offered event rates, events/s, comma-separated', '2000,5000,10000,20000,40000')
  .option('--stage-seconds <n>', 'seconds per stage', num, 15)
  .option('--warmup-seconds <n>', 'seconds at the first rate before measuring', num, 5)
  .option('--clients <n>', 'concurrent feed clients over HTTP (closed loop) during the stages', num, 8)
  .option('--k <n>', 'feed size', num, 20)
  .option('--p99-bound-ms <n>', 'feed p99 above this marks saturation', num, 250)
  .option('--users <n>', 'users in the event stream', num, 20_000)
  .option('--items <n>', 'items (catalogue and event stream)', num, 5_000)
  .option('--partitions <n>', 'partitions of the events topic', num, 4)
  .option(
    '--processes <groups>',
    `processors per child process, ';'-separated lists of ${PROCESSOR_NAMES.join(', ')}`,
    'ledger-writer;features,scaler,als-fold-in,ranker-trainer,catalog',
  )
  .option('--no-backpressure', 'skip the backpressure phases')
  .option('--slow-ms <n>', 'backpressure: delay the proxy adds to every chunk, each direction', num, 200)
  .option(
    '--slow-bytes-per-s <n>',
    'backpressure: throughput cap per proxied connection and direction (0: latency only)',
    num,
    256 * 1024,
  )
  .option(
    '--bp-baseline-seconds <n>',
    'backpressure: seconds of events into the processors before slowing their Redis and ClickHouse',
    num,
    15,
  )
  .option('--bp-seconds <n>', 'backpressure: seconds of events into the slowed processors', num, 45)
  .option('--bp-rate <n>', 'backpressure: events/s offered meanwhile', num, 10_000)
  .option('--bp-rps <n>', 'backpressure: feed requests/s offered to the slowed reader (open loop)', num, 300)
  .option('--bp-reader-seconds <n>', 'backpressure: seconds of requests per reader mode', num, 10)
  .option(
    '--max-in-flight <n>',
    "backpressure: the reader's HTTP_MAX_IN_FLIGHT in the limited mode (default: the configured default)",
    num,
  )
  .option('--keep-logs', "keep the child processes' logs (their directory is printed)")
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{
    stages: string;
    stageSeconds: number;
    warmupSeconds: number;
    clients: number;
    k: number;
    p99BoundMs: number;
    users: number;
    items: number;
    partitions: number;
    processes: string;
    backpressure: boolean;
    slowMs: number;
    slowBytesPerS: number;
    bpBaselineSeconds: number;
    bpSeconds: number;
    bpRate: number;
    bpRps: number;
    bpReaderSeconds: number;
    maxInFlight?: number;
    keepLogs?: boolean;
    out?: string;
  }>();

const rates = opts.stages.split(',').map((s) => num(s.trim()));
const layout: ProcessorName[][] = opts.processes.split(';').map((g) =>
  g.split(',').map((n) => {
    const name = n.trim();
    if (!(PROCESSOR_NAMES as readonly string[]).includes(name))
      throw new Error(`--processes: unknown processor ${JSON.stringify(name)}`);
    return name as ProcessorName;
  }),
);
const eventProcessors = layout.flat().filter((n) => n !== 'catalog');
const progress = (m: string) => process.stderr.write(`bench:load: ${new Date().toISOString().slice(11, 19)} ${m}\n`);
const round = (x: number, d = 1) => +x.toFixed(d);
const benchStart = performance.now();
const elapsedS = () => round((performance.now() - benchStart) / 1000);

// ------------------------------------------------------------------------------------------------ isolated config

const run = Date.now().toString(36);
const work = mkdtempSync(join(tmpdir(), 'rs-bench-load-'));
const logDir = join(work, 'logs');
mkdirSync(logDir);
const tenant = `bench-load-${run}`;
const prefix = `bench-load-${run}`;
const childEnv: NodeJS.ProcessEnv = {
  ...process.env,
  RANKSTREAM_LOG_LEVEL: 'info', // the processes log their URLs at info
  ...isolatedEnv('bench-load', run),
  TOPIC_PARTITIONS: String(opts.partitions),
  ARTIFACTS_DIR: join(work, 'artifacts'),
  HTTP_PORT: '0',
  PROCESSOR_HTTP_PORT: '0',
  AUTH_REQUIRED: 'true',
  RATE_LIMIT_PER_S: '0', // measures serving, not the per-key limit
  RETCON_NEW_ITEMS_TRIGGER: '0', // no index rebuilds: there is no ALS model here anyway
  CONSUMER_LAG_INTERVAL_S: '5',
  SHUTDOWN_TIMEOUT_S: '15',
};
const config: Config = loadConfig({ ...childEnv, RANKSTREAM_LOG_LEVEL: 'warn' });
const logger = createLogger('warn', 'bench');
const groupId = (p: string) => `${prefix}-${p}`;

// ------------------------------------------------------------------------------------------------ state for cleanup

const services: Service[] = [];
const proxies: LatencyProxy[] = [];
let apiKey: string | null = null;
let cleanedUp = false;

await ensureServices({ log: (l: string) => progress(`infra: ${l}`) });
const kafka = createKafka(config, logger, 'bench-load');
const admin = kafka.admin();
await admin.connect();
const redis = createRedis(config);
const clickhouse = createClickHouse(config);

async function cleanup(): Promise<Record<string, unknown>> {
  if (cleanedUp) return {};
  cleanedUp = true;
  const report: Record<string, unknown> = {};
  const stopped = await Promise.all(services.map(async (s) => [s.name, await s.stop(20_000)] as const));
  report.childProcesses = Object.fromEntries(stopped);
  await Promise.all(proxies.map((p) => p.close()));
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      report[what] = 'removed';
    } catch (err) {
      report[what] = `failed: ${err instanceof Error ? err.message : String(err)}`;
    }
  };
  await attempt('isolatedNames', async () => Object.assign(report, await deprovision(config, logger)));
  await attempt('tenantKeys', async () => {
    if (apiKey) await revokeApiKey(redis, apiKey);
    await unregisterTenant(redis, tenant);
    await forgetTenant(redis, tenant);
    await deleteTenantKeys(redis, tenant);
  });
  await admin.disconnect().catch(() => {});
  await clickhouse.close().catch(() => {});
  redis.disconnect();
  if (!opts.keepLogs) rmSync(work, { recursive: true, force: true });
  return report;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// ------------------------------------------------------------------------------------------------ helpers

/** Lag of every event-processor group on the events topic (one topic-offsets call, one group-offsets call per group). */
async function eventLags(
  a: Admin = admin,
  names: readonly string[] = eventProcessors,
): Promise<Record<string, number>> {
  const ends = await a.fetchTopicOffsets(config.topics.events);
  const out: Record<string, number> = {};
  await Promise.all(
    names.map(async (p) => {
      const committed = await a.fetchOffsets({ groupId: groupId(p), topics: [config.topics.events] });
      out[p] = Number(
        partitionLags(ends, committed.find((t) => t.topic === config.topics.events)?.partitions ?? []).reduce(
          (s, x) => s + x.lag,
          0n,
        ),
      );
    }),
  );
  return out;
}

async function groupLag(group: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId: group, topics: [topic] }),
  ]);
  return Number(
    partitionLags(ends, committed.find((t) => t.topic === topic)?.partitions ?? []).reduce((s, x) => s + x.lag, 0n),
  );
}

function processorsService(names: ProcessorName[], tag: string, env: NodeJS.ProcessEnv): Service {
  const s = startService(
    `processors${tag}:${names.join('+')}`,
    'cli/process.ts',
    ['--only', names.join(',')],
    env,
    logDir,
    'health and metrics listening',
  );
  services.push(s);
  return s;
}

function readerService(tag: string, env: NodeJS.ProcessEnv): Service {
  const s = startService(`reader${tag}`, 'cli/serve.ts', [], env, logDir, 'reader listening');
  services.push(s);
  return s;
}

/** Stops services (graceful, then by PID) and forgets them. */
async function stopServices(list: Service[]): Promise<Record<string, string>> {
  const out = await Promise.all(list.map(async (s) => [s.name, await s.stop(25_000)] as const));
  for (const s of list) services.splice(services.indexOf(s), 1);
  return Object.fromEntries(out);
}

/** Scrapes every service's /metrics at once. */
async function scrapeAll(
  list: readonly Service[],
  urls: ReadonlyMap<Service, string>,
): Promise<Map<Service, PromSample[] | null>> {
  return new Map(await Promise.all(list.map(async (s) => [s, await scrape(urls.get(s)!)] as const)));
}

/** Records consumed per processor, summed over the processors' processes. */
function consumedBy(scrapes: Map<Service, PromSample[] | null>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const samples of scrapes.values())
    for (const [p, v] of Object.entries(metricBy(samples ?? [], 'rankstream_records_consumed_total', 'processor')))
      out[p] = (out[p] ?? 0) + v;
  return out;
}

// ------------------------------------------------------------------------------------------------ the producer child

const producerService = forkService(
  'producer',
  'bench/load-producer.ts',
  {
    ...childEnv,
    RANKSTREAM_LOG_LEVEL: 'warn',
    LOAD_TENANT: tenant,
    LOAD_USERS: String(opts.users),
    LOAD_ITEMS: String(opts.items),
    LOAD_RUN: run,
  },
  logDir,
);
services.push(producerService);
let snapshotSeq = 0;
const snapshotWaiters = new Map<number, (c: ProducerCounters) => void>();
const producerReady = new Promise<void>((resolve, reject) => {
  producerService.child.on('message', (m: ProducerMessage) => {
    if (m.type === 'ready') resolve();
    else if (m.type === 'error') reject(new Error(`producer: ${m.message}`));
    else if (m.type === 'snapshot') {
      snapshotWaiters.get(m.id)?.(m.counters);
      snapshotWaiters.delete(m.id);
    }
  });
  void producerService.exited.then((code) =>
    reject(new Error(`producer exited (code ${code}); see ${producerService.logPath}`)),
  );
});
producerReady.catch(() => {}); // awaited below; an early exit must not be an unhandled rejection meanwhile
const command = (c: ProducerCommand) => producerService.child.send(c);
const setRate = (eventsPerS: number) => command({ type: 'rate', eventsPerS });
function producerCounters(): Promise<ProducerCounters> {
  const id = ++snapshotSeq;
  return new Promise((resolve, reject) => {
    snapshotWaiters.set(id, resolve);
    command({ type: 'snapshot', id });
    setTimeout(() => reject(new Error('producer did not answer a snapshot within 10 s')), 10_000).unref();
  });
}

// ------------------------------------------------------------------------------------------------ memory/CPU sampling

interface Sample {
  t: number;
  phase: string;
  rssMiB: Record<string, number>;
  lag?: Record<string, number>;
}
const timeline: Sample[] = [];
function sampleProcs(phase: string, list: readonly Service[]): Sample {
  const rssMiB: Record<string, number> = {};
  for (const s of list) {
    const p = procSample(s.pid);
    if (p) rssMiB[s.name] = mib(p.rssBytes);
  }
  rssMiB.bench = mib(process.memoryUsage().rss);
  return { t: elapsedS(), phase, rssMiB };
}
function cpuOf(list: readonly Service[]): Record<string, number> {
  const out: Record<string, number> = { bench: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 };
  for (const s of list) {
    const p = procSample(s.pid);
    if (p) out[s.name] = p.cpuSeconds;
  }
  return out;
}
function rssStats(samples: readonly Sample[], name: string): { start: number; end: number; max: number } | null {
  const xs = samples.map((s) => s.rssMiB[name]).filter((x): x is number => x !== undefined);
  return xs.length === 0 ? null : { start: xs[0]!, end: xs[xs.length - 1]!, max: Math.max(...xs) };
}

// ------------------------------------------------------------------------------------------------ 1. the stack

let output: Record<string, unknown> = {};
let failure: unknown = null;
try {
  progress(
    `isolated run ${run}: topics bench-load.${run}.*, tables *_bench_load_${run}, groups ${prefix}-*, tenant ${tenant}; logs in ${logDir}`,
  );
  await provision(config, logger);
  apiKey = await createApiKey(redis, tenant);
  const processorServices = layout.map((names) => processorsService(names, '', childEnv));
  const reader = readerService('', childEnv);
  const stackServices = [...processorServices, reader, producerService];
  progress(`starting ${processorServices.length} processor process(es), the reader and the producer`);
  const startT = performance.now();
  const urls = new Map<Service, string>();
  await Promise.all([...processorServices, reader].map(async (s) => urls.set(s, await waitReady(s, 240_000))));
  await producerReady;
  const startupS = round((performance.now() - startT) / 1000);
  progress(`ready after ${startupS} s`);

  // the catalogue, so feeds have items to look up and the fresh rail has candidates
  const itemProducer = await ItemProducer.connect(
    kafka,
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.items,
  );
  let batch = [];
  for (const item of syntheticCatalogue(tenant, opts.items, 32, Date.now() - 60_000)) {
    batch.push(item);
    if (batch.length === 2000) {
      await itemProducer.send(batch);
      batch = [];
    }
  }
  await itemProducer.send(batch);
  await itemProducer.disconnect();
  if (layout.flat().includes('catalog')) {
    await waitUntil(async () => (await groupLag(groupId('catalog'), config.topics.items)) <= 0, {
      timeoutMs: 120_000,
      intervalMs: 500,
    });
  }

  // ---------------------------------------------------------------------------------------------- 2. stages
  interface FeedSample {
    at: number;
    ms: number;
    status: number;
  }
  const feedSamples: FeedSample[] = [];
  let clientsStop = false;
  const readerUrl = urls.get(reader)!;
  async function feedClient(seed: number): Promise<void> {
    const random = seededRandom(seed);
    while (!clientsStop) {
      const user = `u${Math.floor(random() ** 2 * opts.users)}`;
      const t = performance.now();
      let status: number;
      try {
        const res = await fetch(`${readerUrl}/v1/feeds/${user}?k=${opts.k}`, {
          headers: { authorization: `Bearer ${apiKey}` },
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        status = res.status;
      } catch {
        status = 0;
      }
      feedSamples.push({ at: performance.now(), ms: performance.now() - t, status });
    }
  }
  const clients = Array.from({ length: opts.clients }, (_, i) => feedClient(1000 + i));

  let sampling = true;
  let currentPhase = 'warmup';
  const sampler = (async () => {
    while (sampling) {
      const s = sampleProcs(currentPhase, stackServices);
      try {
        s.lag = await eventLags();
      } catch {
        // a failed lag read leaves this sample without lag
      }
      timeline.push(s);
      await sleep(2000);
    }
  })();

  progress(`warm-up: ${opts.warmupSeconds} s at ${rates[0]} events/s with ${opts.clients} feed clients`);
  setRate(rates[0] ?? 0);
  await sleep(opts.warmupSeconds * 1000);

  const stageResults: Record<string, unknown>[] = [];
  const verdicts: { offeredEventsPerS: number; laggingGroups: string[]; feedP99Ms: number }[] = [];
  for (let i = 0; i < rates.length; i++) {
    const rate = rates[i]!;
    currentPhase = `stage ${i + 1}`;
    setRate(rate);
    progress(`stage ${i + 1}/${rates.length}: ${rate} events/s for ${opts.stageSeconds} s`);
    const t0 = performance.now();
    const [p0, lag0, m0] = await Promise.all([producerCounters(), eventLags(), scrapeAll(processorServices, urls)]);
    const cpu0 = cpuOf(stackServices);
    const tl0 = timeline.length;
    const lagSamples: Record<string, number>[] = [lag0];
    while (performance.now() - t0 < opts.stageSeconds * 1000) {
      await sleep(Math.min(2000, Math.max(0, opts.stageSeconds * 1000 - (performance.now() - t0))));
      if (performance.now() - t0 < opts.stageSeconds * 1000 - 500) lagSamples.push(await eventLags());
    }
    const [p1, lag1, m1] = await Promise.all([producerCounters(), eventLags(), scrapeAll(processorServices, urls)]);
    const cpu1 = cpuOf(stackServices);
    lagSamples.push(lag1);
    const t1 = performance.now();
    const seconds = (t1 - t0) / 1000;
    const acked = p1.acked - p0.acked;
    const consumed0 = consumedBy(m0);
    const consumed1 = consumedBy(m1);
    const processed: Record<string, number> = {};
    for (const p of layout.flat()) processed[p] = Math.round(((consumed1[p] ?? 0) - (consumed0[p] ?? 0)) / seconds);
    const lag: Record<string, { start: number; end: number; max: number; keepsGrowing: boolean }> = {};
    const lagging: string[] = [];
    for (const p of eventProcessors) {
      const series = lagSamples.map((l) => l[p] ?? 0);
      const growing = lagKeepsGrowing({ start: lag0[p] ?? 0, end: lag1[p] ?? 0, samples: series, produced: acked });
      lag[p] = { start: lag0[p] ?? 0, end: lag1[p] ?? 0, max: Math.max(...series), keepsGrowing: growing };
      if (growing) lagging.push(p);
    }
    const feeds = feedSamples.filter((f) => f.at >= t0 && f.at < t1);
    const ms = feeds.filter((f) => f.status === 200).map((f) => f.ms);
    const feedP99Ms = round(quantile(ms, 0.99), 1);
    const stageSamples = [sampleProcs(currentPhase, stackServices), ...timeline.slice(tl0)];
    const rssMiB: Record<string, unknown> = {};
    const cpuPercent: Record<string, number> = {};
    for (const name of [...stackServices.map((s) => s.name), 'bench']) {
      rssMiB[name] = rssStats(stageSamples, name);
      cpuPercent[name] = Math.round((100 * ((cpu1[name] ?? 0) - (cpu0[name] ?? 0))) / seconds);
    }
    verdicts.push({ offeredEventsPerS: rate, laggingGroups: lagging, feedP99Ms });
    stageResults.push({
      stage: i + 1,
      offeredEventsPerS: rate,
      seconds: round(seconds),
      produce: {
        offered: p1.offered - p0.offered,
        acked,
        dropped: p1.dropped - p0.dropped,
        failed: p1.failed - p0.failed,
        achievedEventsPerS: Math.round(acked / seconds),
        producerLimited: acked < 0.9 * (p1.offered - p0.offered),
      },
      processedEventsPerS: processed,
      lag,
      feeds: {
        requests: feeds.length,
        ok: ms.length,
        failed: feeds.length - ms.length,
        p50Ms: round(quantile(ms, 0.5), 1),
        p99Ms: feedP99Ms,
        rps: Math.round(feeds.length / seconds),
      },
      rssMiB,
      cpuPercent,
      loadavg1m: round(loadavg()[0] ?? 0, 2),
    });
    progress(
      `  achieved ${Math.round(acked / seconds)} ev/s; ledger ${processed['ledger-writer'] ?? '-'} ev/s; lag ${JSON.stringify(lag1)}; feeds p50 ${round(quantile(ms, 0.5))} p99 ${feedP99Ms} ms, ${Math.round(feeds.length / seconds)} req/s`,
    );
  }
  setRate(0);
  clientsStop = true;
  await Promise.all(clients);
  sampling = false;
  await sampler;
  const saturation = saturationPoint(verdicts, opts.p99BoundMs);
  const dlqEnd = (await admin.fetchTopicOffsets(config.topics.eventsDlq)).reduce((s, p) => s + Number(p.high), 0);
  const stagesTimeline = timeline.splice(0);

  // ---------------------------------------------------------------------------------------------- 3. backpressure
  let backpressure: Record<string, unknown> | null = null;
  if (opts.backpressure) {
    progress('backpressure: stopping the stage processors and reader (graceful: drain and commit)');
    const stops = await stopServices([...processorServices, reader]);
    const redisTarget = new URL(config.redisUrl);
    const chTarget = new URL(config.clickhouse.url);
    const redisProxy = await startLatencyProxy({
      targetHost: redisTarget.hostname,
      targetPort: Number(redisTarget.port || 6379),
      delayMs: 0,
    });
    const chProxy = await startLatencyProxy({
      targetHost: chTarget.hostname,
      targetPort: Number(chTarget.port || 8123),
      delayMs: 0,
    });
    const readerRedisProxy = await startLatencyProxy({
      targetHost: redisTarget.hostname,
      targetPort: Number(redisTarget.port || 6379),
      delayMs: 0,
    });
    proxies.push(redisProxy, chProxy, readerRedisProxy);

    // 3a. processors behind the proxies, same consumer groups (they continue where the stages stopped): first at full
    // speed (baseline), then with every Redis and ClickHouse chunk delayed, the same events/s offered throughout
    const slowEnv = {
      ...childEnv,
      REDIS_URL: redisProxy.via(config.redisUrl),
      CLICKHOUSE_URL: chProxy.via(config.clickhouse.url),
    };
    const bpProcs = layout.map((names) => processorsService(names, '-proxied', slowEnv));
    // the readers of 3b start meanwhile (their Redis is not slowed until they are ready): one without a limit, one with
    const limit = opts.maxInFlight ?? config.http.maxInFlight;
    const readerEnv = (maxInFlight: number) => ({
      ...childEnv,
      REDIS_URL: readerRedisProxy.via(config.redisUrl),
      HTTP_MAX_IN_FLIGHT: String(maxInFlight),
    });
    const readerUnlimited = readerService('-unlimited', readerEnv(0));
    const readerLimited = readerService(`-limit-${limit}`, readerEnv(limit));
    const bpUrls = new Map<Service, string>();
    await Promise.all(
      [...bpProcs, readerUnlimited, readerLimited].map(async (s) => bpUrls.set(s, await waitReady(s, 240_000))),
    );

    interface Window {
      seconds: number;
      achievedEventsPerS: number;
      processedEventsPerS: Record<string, number>;
      lag: Record<string, { start: number; end: number; growthPerS: number }>;
      memory: Record<
        string,
        {
          rssMiB: { start: number; end: number; max: number } | null;
          rssSlopeMiBPerMin: number;
          rssLastThirdMinusFirstThirdMiB: number;
          heapUsedMiB: { start: number; end: number; max: number } | null;
        }
      >;
      maxBatchesInFlight: Record<string, number> | 'not exported';
      samples: Sample[];
    }
    async function window(phase: string, seconds: number): Promise<Window> {
      const samples: Sample[] = [];
      const heap = new Map<string, number[]>();
      const inFlightMax: Record<string, number> = {};
      const [p0, lag0, m0] = await Promise.all([producerCounters(), eventLags(), scrapeAll(bpProcs, bpUrls)]);
      const t0 = performance.now();
      while (performance.now() - t0 < seconds * 1000) {
        await sleep(1000);
        const s = sampleProcs(phase, bpProcs);
        const [lag, scrapes] = await Promise.all([eventLags(), scrapeAll(bpProcs, bpUrls)]);
        s.lag = lag;
        samples.push(s);
        for (const [svc, m] of scrapes) {
          if (!m) continue;
          heap.set(svc.name, [
            ...(heap.get(svc.name) ?? []),
            mib(metricSum(m, 'rankstream_nodejs_heap_size_used_bytes')),
          ]);
          for (const [p, v] of Object.entries(metricBy(m, 'rankstream_batches_in_flight', 'processor')))
            inFlightMax[p] = Math.max(inFlightMax[p] ?? 0, v);
        }
      }
      const elapsed = (performance.now() - t0) / 1000;
      const [p1, lag1, m1] = await Promise.all([producerCounters(), eventLags(), scrapeAll(bpProcs, bpUrls)]);
      const c0 = consumedBy(m0);
      const c1 = consumedBy(m1);
      const memory: Window['memory'] = {};
      for (const svc of bpProcs) {
        const pts = samples
          .filter((x) => x.rssMiB[svc.name] !== undefined)
          .map((x) => ({ x: x.t / 60, y: x.rssMiB[svc.name]! }));
        const h = heap.get(svc.name) ?? [];
        const third = Math.max(1, Math.floor(pts.length / 3));
        const mean = (xs: { y: number }[]) => xs.reduce((a, b) => a + b.y, 0) / Math.max(1, xs.length);
        memory[svc.name] = {
          rssMiB: rssStats(samples, svc.name),
          rssSlopeMiBPerMin: round(slope(pts), 1),
          rssLastThirdMinusFirstThirdMiB: Math.round(mean(pts.slice(-third)) - mean(pts.slice(0, third))),
          heapUsedMiB: h.length > 0 ? { start: h[0]!, end: h[h.length - 1]!, max: Math.max(...h) } : null,
        };
      }
      const lag: Window['lag'] = {};
      for (const p of eventProcessors)
        lag[p] = {
          start: lag0[p] ?? 0,
          end: lag1[p] ?? 0,
          growthPerS: Math.round(((lag1[p] ?? 0) - (lag0[p] ?? 0)) / elapsed),
        };
      return {
        seconds: round(elapsed),
        achievedEventsPerS: Math.round((p1.acked - p0.acked) / elapsed),
        processedEventsPerS: Object.fromEntries(
          eventProcessors.map((p) => [p, Math.round(((c1[p] ?? 0) - (c0[p] ?? 0)) / elapsed)]),
        ),
        lag,
        memory,
        maxBatchesInFlight: Object.keys(inFlightMax).length > 0 ? inFlightMax : 'not exported',
        samples,
      };
    }
    setRate(opts.bpRate);
    progress(
      `backpressure: processors behind pass-through proxies (baseline), ${opts.bpRate} events/s for ${opts.bpBaselineSeconds} s`,
    );
    const baseline = await window('backpressure: baseline', opts.bpBaselineSeconds);
    for (const p of [redisProxy, chProxy]) {
      p.setDelay(opts.slowMs);
      p.setBandwidth(opts.slowBytesPerS);
    }
    progress(
      `backpressure: every Redis and ClickHouse chunk delayed ${opts.slowMs} ms each way${opts.slowBytesPerS > 0 ? `, ${opts.slowBytesPerS} bytes/s per connection and direction` : ''}; ${opts.bpRate} events/s for ${opts.bpSeconds} s`,
    );
    const slowed = await window('backpressure: slowed', opts.bpSeconds);
    setRate(0);
    const retries: Record<string, number> = {};
    for (const m of (await scrapeAll(bpProcs, bpUrls)).values())
      for (const [p, v] of Object.entries(metricBy(m ?? [], 'rankstream_batch_retries_total', 'processor')))
        retries[p] = v;
    const summary = (w: Window) => ({
      seconds: w.seconds,
      achievedEventsPerS: w.achievedEventsPerS,
      processedEventsPerS: w.processedEventsPerS,
      lag: w.lag,
      memory: w.memory,
      maxBatchesInFlight: w.maxBatchesInFlight,
    });
    const processorsBp = {
      slowMsPerChunkEachWay: opts.slowMs,
      slowBytesPerSPerConnection: opts.slowBytesPerS,
      offeredEventsPerS: opts.bpRate,
      baseline: summary(baseline),
      slowed: summary(slowed),
      peakRssMiB: Object.fromEntries(bpProcs.map((svc) => [svc.name, mib(procSample(svc.pid)?.peakRssBytes ?? 0)])),
      sideEffectRetries: retries,
      proxies: { redis: redisProxy.stats(), clickhouse: chProxy.stats() },
      timeline: [...baseline.samples, ...slowed.samples]
        .filter((_, i, all) => i % 3 === 0 || i === all.length - 1)
        .map((x) => ({ t: x.t, phase: x.phase, rssMiB: x.rssMiB, lag: x.lag })),
    };
    const maxRss = (w: Window) =>
      Object.fromEntries(Object.entries(w.memory).map(([k, v]) => [k, v.rssMiB?.max ?? null]));
    progress(
      `  baseline: processed ${JSON.stringify(baseline.processedEventsPerS)} ev/s, rss max ${JSON.stringify(maxRss(baseline))} MiB`,
    );
    progress(
      `  slowed: processed ${JSON.stringify(slowed.processedEventsPerS)} ev/s, lag ${JSON.stringify(Object.fromEntries(Object.entries(slowed.lag).map(([k, v]) => [k, `${v.start}->${v.end}`])))}, rss max ${JSON.stringify(maxRss(slowed))} MiB`,
    );
    const bpStops = await stopServices(bpProcs);

    // 3b. the reader with Redis slowed, open-loop HTTP load: without and with the in-flight limit
    readerRedisProxy.setDelay(opts.slowMs);
    async function openLoop(svc: Service): Promise<Record<string, unknown>> {
      const base = bpUrls.get(svc)!;
      const random = seededRandom(7);
      const results: { ms: number; status: number }[] = [];
      const controller = new AbortController();
      setMaxListeners(0, controller.signal); // one listener per request in flight
      let outstanding = 0;
      let maxOutstanding = 0;
      let launched = 0;
      const samples: Sample[] = [];
      let readerInFlightMax = 0;
      const one = async () => {
        launched++;
        outstanding++;
        maxOutstanding = Math.max(maxOutstanding, outstanding);
        const t = performance.now();
        try {
          const res = await fetch(`${base}/v1/feeds/u${Math.floor(random() ** 2 * opts.users)}?k=${opts.k}`, {
            headers: { authorization: `Bearer ${apiKey}` },
            signal: controller.signal,
          });
          await res.arrayBuffer();
          results.push({ ms: performance.now() - t, status: res.status });
        } catch {
          results.push({ ms: performance.now() - t, status: 0 });
        } finally {
          outstanding--;
        }
      };
      const pending: Promise<void>[] = [];
      const t0 = performance.now();
      let due = 0;
      let lastTick = t0;
      let nextSample = t0;
      while (performance.now() - t0 < opts.bpReaderSeconds * 1000) {
        const now = performance.now();
        due += (opts.bpRps * (now - lastTick)) / 1000;
        lastTick = now;
        while (due >= 1) {
          due--;
          pending.push(one());
        }
        if (now >= nextSample) {
          nextSample = now + 1000;
          samples.push(sampleProcs('backpressure: reader', [svc]));
          void scrape(base, 3000).then(
            (m) =>
              void (readerInFlightMax = Math.max(readerInFlightMax, metricSum(m ?? [], 'rankstream_http_in_flight'))),
          );
        }
        await sleep(10);
      }
      const sentS = (performance.now() - t0) / 1000;
      // let what is in flight finish (bounded), then abort the rest
      const drainDeadline = performance.now() + 20_000;
      while (outstanding > 0 && performance.now() < drainDeadline) {
        await sleep(250);
        samples.push(sampleProcs('backpressure: reader', [svc]));
      }
      const unfinished = outstanding;
      controller.abort();
      await Promise.all(pending);
      const finalMetrics = await scrape(base, 10_000);
      const ok = results.filter((r) => r.status === 200);
      const shed = results.filter((r) => r.status === 503);
      const st = rssStats(samples, svc.name);
      return {
        maxInFlightSetting: svc === readerUnlimited ? 0 : limit,
        offeredRps: opts.bpRps,
        seconds: round(sentS),
        sent: launched,
        ok: ok.length,
        shed503: shed.length,
        otherErrors: results.length - ok.length - shed.length - unfinished,
        unfinishedAfter20s: unfinished,
        okLatencyMs: {
          p50: round(
            quantile(
              ok.map((r) => r.ms),
              0.5,
            ),
          ),
          p99: round(
            quantile(
              ok.map((r) => r.ms),
              0.99,
            ),
          ),
        },
        shedLatencyMs: {
          p50: round(
            quantile(
              shed.map((r) => r.ms),
              0.5,
            ),
          ),
          p99: round(
            quantile(
              shed.map((r) => r.ms),
              0.99,
            ),
          ),
        },
        maxOutstandingAtClient: maxOutstanding,
        readerInFlightMax: Math.max(readerInFlightMax, metricSum(finalMetrics ?? [], 'rankstream_http_in_flight')),
        shedCounter: metricSum(finalMetrics ?? [], 'rankstream_http_shed_total'),
        rssMiB: st ? { ...st, growth: st.max - st.start } : null,
        peakRssMiB: mib(procSample(svc.pid)?.peakRssBytes ?? 0),
      };
    }
    progress(
      `backpressure: reader with Redis chunks delayed ${opts.slowMs} ms each way, ${opts.bpRps} req/s offered for ${opts.bpReaderSeconds} s, HTTP_MAX_IN_FLIGHT=0`,
    );
    const unlimited = await openLoop(readerUnlimited);
    progress(`  ${JSON.stringify(unlimited)}`);
    const unlimitedStop = await stopServices([readerUnlimited]);
    progress(`backpressure: the same with HTTP_MAX_IN_FLIGHT=${limit}`);
    const limited = await openLoop(readerLimited);
    progress(`  ${JSON.stringify(limited)}`);
    const limitedStop = await stopServices([readerLimited]);
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    backpressure = {
      processors: processorsBp,
      reader: { slowMsPerChunkEachWay: opts.slowMs, slowBytesPerSPerConnection: 0, unlimited, limited },
      stops: { stageServices: stops, slowProcessors: bpStops, readers: { ...unlimitedStop, ...limitedStop } },
    };
  }

  output = {
    benchmark: 'load',
    machine: { ...machine(), loadavg: loadavg().map((x) => round(x, 2)) },
    setup: {
      run,
      processes: Object.fromEntries([
        ...processorServices.map((s) => [s.name, 'cli/process.ts']),
        [reader.name, 'cli/serve.ts'],
        [producerService.name, 'bench/load-producer.ts'],
      ]),
      partitions: opts.partitions,
      users: opts.users,
      items: opts.items,
      feedClients: opts.clients,
      k: opts.k,
      stageSeconds: opts.stageSeconds,
      warmupSeconds: opts.warmupSeconds,
      startupSeconds: startupS,
      eventMix: { impression: 0.5, click: 0.35, engagement: 0.1, conversion: 0.05 },
    },
    stages: stageResults,
    saturation: saturation ?? {
      stage: null,
      note: `no stage saturated: lag never kept growing and feed p99 stayed under ${opts.p99BoundMs} ms`,
    },
    p99BoundMs: opts.p99BoundMs,
    deadLetters: dlqEnd,
    timeline: stagesTimeline,
    backpressure,
    seconds: elapsedS(),
  };
} catch (err) {
  failure = err;
}

try {
  command({ type: 'stop' });
} catch {
  // the producer is gone already
}
const cleanupReport = await cleanup();
if (failure) {
  process.stderr.write(
    `bench:load failed: ${failure instanceof Error ? (failure.stack ?? failure.message) : String(failure)}\n`,
  );
  if (opts.keepLogs) process.stderr.write(`logs: ${logDir}\n`);
  process.stderr.write(`cleanup: ${JSON.stringify(cleanupReport)}\n`);
  process.exit(1);
}
printReport({ ...output, cleanup: cleanupReport, logs: opts.keepLogs ? logDir : 'removed' }, opts.out);
process.exit(0);
