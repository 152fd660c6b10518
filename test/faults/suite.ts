// The fault-injection suite (`npm run test:faults`): on a dedicated set of local services (its own Kafka, schema
// registry, Redis and ClickHouse, on other ports and under .rankstream/faults, never the shared ones), with each event
// processor in its own child process (`cli/process.ts --only <name>`), a seeded producer streams events of several
// tenants (a small share invalid) while the suite
//   - kills each processor with SIGKILL in the middle of a batch and starts it again,
//   - kills and restarts the Kafka broker, Redis and ClickHouse (SIGKILL by default: a crash, not a clean stop),
// then, once every processor has caught up, checks that the ledger holds every accepted event exactly once, that
// Redis equals a recomputation from the ledger, and that every invalid message is in the dead-letter topic with its
// reason. Prints a JSON summary (also written to .rankstream/faults/summary.json); exits 1 when a check fails.
// Only processes this suite started are ever signalled, by their PIDs.
//
// Modules: options.ts (processors, faults, ports, command line), processor-child.ts (the processes under test),
// producer.ts (the stream driver), fault-injection.ts (each fault and the recovery it measures), summary.ts (checks
// and the JSON summary), timeline.ts (the clock and log); checks.ts and generator.ts hold the checks and the stream.
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Kafka } from 'kafkajs';
import { loadConfig, type Config } from '../../config/config.ts';
import { isolatedEnv } from '../support/isolated-env.ts';
import { REPO_ROOT, down, layout, up, type InfraOptions } from '../../infra/local/services.ts';
import { provision } from '../../apps/provision.ts';
import { createClickHouse, sqlIdentifier } from '../../platform/clickhouse.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis } from '../../platform/redis.ts';
import { registerEventSchemas } from '../../schemas/event-codec.ts';
import { registerItemSchema } from '../../schemas/item-codec.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { consumerLag } from '../../streams/offsets.ts';
import { inject, type FaultRecord } from './fault-injection.ts';
import { DEFAULT_STREAM, type StreamOptions } from './generator.ts';
import { PORTS, PROCESSORS, parseOptions, type SuiteProcessor } from './options.ts';
import { ProcessorChild } from './processor-child.ts';
import { produce, TAIL_SHARE, type Encoders, type ProduceStats } from './producer.ts';
import { faultSuiteSummary, runChecks } from './summary.ts';
import { log, restartClock, secs, sleep, waitFor } from './timeline.ts';

async function main(): Promise<void> {
  const opts = parseOptions();
  restartClock();
  const runId = Date.now().toString(36);
  const baseCfg = loadConfig();
  const dataDir = path.join(layout(baseCfg).dataDir, 'faults');
  const infraEnv: Record<string, string> = {
    RANKSTREAM_DATA_DIR: dataDir,
    RANKSTREAM_LOG_LEVEL: 'warn',
    KAFKA_BROKERS: `127.0.0.1:${PORTS.kafka}`,
    SCHEMA_REGISTRY_URL: `http://127.0.0.1:${PORTS.registry}/apis/ccompat/v7`,
    REDIS_URL: `redis://127.0.0.1:${PORTS.redis}`,
    CLICKHOUSE_URL: `http://127.0.0.1:${PORTS.clickhouseHttp}`,
  };
  const appEnv: Record<string, string> = {
    ...infraEnv,
    CLICKHOUSE_DATABASE: 'faults',
    ...isolatedEnv('faults', runId),
    ARTIFACTS_DIR: path.join(dataDir, 'artifacts'),
    CONSUMER_LAG_INTERVAL_S: '5',
  };
  // Only the variables above differ from the caller's environment; anything app-specific they set stays.
  const config: Config = loadConfig({ ...process.env, ...appEnv });
  const infra: InfraOptions = { config, distDir: layout(baseCfg).distDir, clickhouseTcpPort: PORTS.clickhouseTcp };
  const serviceLog = (line: string) => log(`infra: ${line}`);

  if (opts.stopServices) {
    const res = await down(undefined, serviceLog, infra);
    process.stdout.write(`${JSON.stringify(res)}\n`);
    return;
  }

  await fsp.mkdir(path.join(dataDir, 'logs'), { recursive: true });
  await fsp.mkdir(path.dirname(opts.out), { recursive: true });
  const lockFile = path.join(dataDir, 'suite.lock');
  await takeLock(lockFile);

  const children: ProcessorChild[] = [];
  let stopping = false;
  const cleanup = async () => {
    stopping = true;
    await Promise.all(children.map((c) => c.stop('SIGTERM', 20_000).catch(() => undefined)));
    if (!opts.keepServices)
      await down(undefined, serviceLog, infra).catch((err: unknown) => log(`stopping services failed: ${String(err)}`));
    await fsp.rm(lockFile, { force: true });
  };
  const onSignal = (sig: NodeJS.Signals) => {
    log(`${sig}: stopping the processors and the suite's services`);
    void cleanup().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // -------------------------------------------------------------- services
    log(
      `services under ${path.relative(REPO_ROOT, dataDir)}: kafka ${config.kafka.brokers.join(',')}, registry ${config.schemaRegistryUrl}, redis ${config.redisUrl}, clickhouse ${config.clickhouse.url}`,
    );
    const upStart = Date.now();
    const started = await up({ ...infra, log: serviceLog });
    const external = started.filter((s) => s.action === 'external');
    if (external.length > 0) {
      throw new Error(
        `ports of the fault suite's services are taken by processes it did not start: ${external.map((s) => `${s.name} at ${s.endpoint}`).join(', ')}; it only restarts its own services`,
      );
    }
    const servicesUpMs = Date.now() - upStart;
    log(`services ready in ${secs(servicesUpMs)}s (${started.map((s) => `${s.name}: ${s.action}`).join(', ')})`);

    const logger = createLogger('warn', 'faults');
    const kafka: Kafka = createKafka(config, logger, 'faults-suite');
    const admin = kafka.admin();
    await admin.connect();
    // a clean slate on the suite's own services: earlier runs' topics, database, Redis keys, artifacts
    const old = (await admin.listTopics()).filter((t) => t.startsWith('faults.'));
    if (old.length > 0) await admin.deleteTopics({ topics: old });
    const chAdmin = createClickHouse(config, null);
    await chAdmin.command({ query: `DROP DATABASE IF EXISTS ${sqlIdentifier(config.clickhouse.database)}` });
    await chAdmin.close();
    const redis = createRedis(config);
    // the suite restarts Redis on purpose: reconnects are expected, not errors to print
    redis.on('error', () => undefined);
    await redis.flushall();
    await fsp.rm(config.artifactsDir, { recursive: true, force: true });
    await provision(config, logger);
    const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
    const enc: Encoders = {
      registry,
      ids: await registerEventSchemas(registry, config.topics.events),
      itemSchemaId: await registerItemSchema(registry, config.topics.items),
    };

    // -------------------------------------------------------------- processors
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...appEnv };
    PROCESSORS.forEach((name, i) =>
      children.push(
        new ProcessorChild(
          name,
          PORTS.processorHttpBase + i,
          childEnv,
          path.join(dataDir, 'logs', `processor-${name}.log`),
        ),
      ),
    );
    for (const c of children) c.start();
    await Promise.all(children.map((c) => c.ready()));
    log(`processors ready: ${children.map((c) => `${c.name} pid ${c.pid}`).join(', ')}`);
    const groups = Object.fromEntries(PROCESSORS.map((p) => [p, `${config.runner.groupPrefix}-${p}`])) as Record<
      SuiteProcessor,
      string
    >;
    const topic = config.topics.events;

    // -------------------------------------------------------------- produce while injecting faults
    const stream: StreamOptions = {
      ...DEFAULT_STREAM,
      seed: opts.seed,
      tenants: opts.tenants,
      invalidShare: opts.invalidShare,
      events: opts.events,
    };
    const rate = opts.events / opts.duration;
    const stats: ProduceStats = {
      messages: 0,
      valid: 0,
      invalid: 0,
      requests: 0,
      resends: 0,
      errors: [],
      startedAt: Date.now(),
      finishedAt: null,
      slowedMessages: 0,
      acceptedPerTenant: new Map(),
      weightedPerTenant: new Map(),
      injected: new Map(),
    };
    const producer = createProducer(kafka);
    await producer.connect();
    log(
      `producing ${opts.events} messages (seed ${opts.seed}, ${opts.tenants} tenants, ${(opts.invalidShare * 100).toFixed(2)}% invalid) at up to ${Math.round(rate)}/s to ${topic}`,
    );
    let faultsPending = opts.faults.length > 0;
    const production = produce(
      producer,
      topic,
      stream,
      rate,
      opts.batch,
      enc,
      stats,
      () => stopping,
      () => faultsPending,
    );
    let productionError: unknown = null;
    production.catch((err: unknown) => {
      productionError = err;
    });

    const faultRecords: FaultRecord[] = [];
    const faultClickhouse = createClickHouse(config);
    // spread the faults over the production: the i-th once i/(n+1) of the messages are out (and the last recovered)
    for (const [i, fault] of opts.faults.entries()) {
      const threshold = ((i + 1) / (opts.faults.length + 1)) * opts.events * (1 - TAIL_SHARE);
      while (stats.messages < threshold && stats.finishedAt === null && productionError === null) await sleep(100);
      if (productionError !== null) throw productionError;
      faultRecords.push(
        await inject(fault, {
          children,
          admin,
          groups,
          topic,
          stats,
          infra,
          signal: opts.serviceSignal,
          outageMs: opts.outage * 1000,
          clickhouse: faultClickhouse,
          redis,
          ledger: `${sqlIdentifier(config.clickhouse.database)}.${sqlIdentifier(config.ledger.table)}`,
        }),
      );
      const r = faultRecords.at(-1)!;
      log(
        `${fault}: resumed after ${secs(r.resumedMs)}s${r.inFlightAtKill !== undefined ? ` (batch in flight at kill: ${r.inFlightAtKill})` : ''}`,
      );
    }
    faultsPending = false;
    await production;
    await producer.disconnect();
    await faultClickhouse.close();
    const produceMs = (stats.finishedAt ?? Date.now()) - stats.startedAt;
    log(
      `produced ${stats.messages} messages (${stats.valid} valid, ${stats.invalid} invalid) in ${secs(produceMs)}s; waiting for every processor to catch up`,
    );

    // -------------------------------------------------------------- catch up
    const caughtUpAt: Record<string, number> = {};
    await waitFor(
      'every processor to catch up',
      async () => {
        for (const [p, g] of Object.entries(groups)) {
          if (caughtUpAt[p] !== undefined) continue;
          if ((await consumerLag(admin, g, topic)) === 0n) caughtUpAt[p] = Date.now();
        }
        return Object.keys(caughtUpAt).length === PROCESSORS.length;
      },
      30 * 60_000,
      500,
    );
    const pipelineMs = Math.max(...Object.values(caughtUpAt)) - stats.startedAt;
    log(`caught up ${secs(pipelineMs)}s after the first message; checking`);

    // -------------------------------------------------------------- checks
    const clickhouse = createClickHouse(config);
    const { checks, failed, checkMs } = await runChecks({
      config,
      clickhouse,
      redis,
      kafka,
      admin,
      topic,
      stats,
      stream,
    });
    await clickhouse.close();

    const summary = faultSuiteSummary({
      checks,
      failed,
      checkMs,
      runId,
      opts,
      config,
      dataDir,
      servicesUpMs,
      stats,
      produceMs,
      pipelineMs,
      caughtUpAt,
      faultRecords,
      children,
    });
    const json = JSON.stringify(summary, null, 2);
    await fsp.writeFile(opts.out, `${json}\n`);
    process.stdout.write(`${json}\n`);
    log(`${summary.ok ? 'OK' : `FAILED: ${failed.join(', ')}`}; summary in ${path.relative(process.cwd(), opts.out)}`);
    redis.disconnect();
    await admin.disconnect();
    process.exitCode = summary.ok ? 0 : 1;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    await cleanup();
  }
}

async function takeLock(lockFile: string): Promise<void> {
  try {
    await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number((await fsp.readFile(lockFile, 'utf8')).trim());
    let alive: boolean;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`another fault-suite run (pid ${holder}) holds ${lockFile}`, { cause: err });
    await fsp.writeFile(lockFile, `${process.pid}\n`);
  }
}

main().catch((err: unknown) => {
  log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
