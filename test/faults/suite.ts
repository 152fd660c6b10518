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
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { isolatedEnv, loadConfig, type Config } from '../../config/config.ts';
import { toAvroRecord, validateEvent } from '../../core/events.ts';
import { REPO_ROOT, down, layout, up, type InfraOptions, type ServiceName } from '../../infra/local/services.ts';
import { provision } from '../../apps/provision.ts';
import { createClickHouse, sqlIdentifier, type ClickHouseClient } from '../../platform/clickhouse.ts';
import { createLogger } from '../../platform/logger.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import type { ProcessorName } from '../../apps/processors.ts';
import { scalerAccKey } from '../../processors/scaler.ts';
import { encodeEvent, registerEventSchemas, type EventSchemaIds } from '../../schemas/event-codec.ts';
import { encodeItem, registerItemSchema } from '../../schemas/item-codec.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { eventKey } from '../../streams/event-producer.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { consumerLag, fetchPartitionLags, type PartitionLag } from '../../streams/offsets.ts';
import {
  checkAlsHistories,
  checkCounters,
  checkLedger,
  checkMarkers,
  checkScalerOffsets,
  checkScores,
  classifyDeadLetters,
  readDeadLetters,
} from './checks.ts';
import { DEFAULT_STREAM, eventStream, type Generated, type InvalidKind, type StreamOptions } from './generator.ts';

// ------------------------------------------------------------------------------------------------ options

/** The event processors, one child process each (the catalogue processor has no part in this stream). */
const PROCESSORS = [
  'ledger-writer',
  'features',
  'scaler',
  'als-fold-in',
  'ranker-trainer',
] as const satisfies readonly ProcessorName[];
type SuiteProcessor = (typeof PROCESSORS)[number];

const DEFAULT_FAULTS = [
  ...PROCESSORS.map((p) => `kill-${p}` as const),
  'restart-kafka',
  'restart-redis',
  'restart-clickhouse',
] as const;
/** Also available: the schema registry (its schemas are kept in an H2 file, so a restart keeps the ids). */
const FAULTS = [...DEFAULT_FAULTS, 'restart-registry'] as const;
type Fault = (typeof FAULTS)[number];

/** The suite's services: ports next to nothing the default set (1xxxx) or the app uses. */
const PORTS = {
  kafka: 29092,
  registry: 28081,
  redis: 26379,
  clickhouseHttp: 28123,
  clickhouseTcp: 29000,
  processorHttpBase: 28201,
};

interface Options {
  events: number;
  seed: number;
  tenants: number;
  invalidShare: number;
  duration: number;
  batch: number;
  faults: Fault[];
  serviceSignal: 'SIGKILL' | 'SIGTERM';
  /** Seconds a stopped service stays down before it is started again. */
  outage: number;
  keepServices: boolean;
  stopServices: boolean;
  out: string;
}

/**
 * Roughly how long the faults take on a 2-core machine, so that by default the production lasts as long: a killed
 * processor's partitions move on after the 30 s session timeout; Kafka takes ~25 s to start after a crash and its
 * consumers ~30 s more to rejoin; Redis and ClickHouse are back within seconds of their restart; the registry ~25 s.
 */
function expectedFaultSeconds(faults: readonly Fault[], outageS: number): number {
  const each = (f: Fault) =>
    f.startsWith('kill-')
      ? 35
      : f === 'restart-kafka'
        ? 60 + outageS
        : f === 'restart-registry'
          ? 30 + outageS
          : 10 + outageS;
  return Math.max(60, Math.round(faults.reduce((sum, f) => sum + each(f), 0) * 1.15));
}

const int = (name: string, min: number) => (v: string) => {
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return n;
};

function faultList(v: string): Fault[] {
  const names = v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 1 && names[0] === 'none') return [];
  const bad = names.filter((n) => !(FAULTS as readonly string[]).includes(n));
  if (bad.length > 0)
    throw new InvalidArgumentError(
      `unknown fault(s) ${bad.join(', ')}; expected none or a list of ${FAULTS.join(', ')}`,
    );
  return names as Fault[];
}

function parseOptions(): Options {
  const program = new Command('test:faults')
    .description(
      'Fault injection on dedicated local services: kill processors mid-batch, restart Kafka, Redis and ClickHouse while events stream; then check ledger, Redis and DLQ.',
    )
    .option('--events <n>', 'messages to produce (valid and invalid)', int('--events', 1), 1_000_000)
    .option('--quick', 'a smaller run: 100k messages (the same faults)')
    .option('--seed <n>', 'generator seed', int('--seed', 0), DEFAULT_STREAM.seed)
    .option('--tenants <n>', 'tenants in the stream', int('--tenants', 1), DEFAULT_STREAM.tenants)
    .option(
      '--invalid-share <x>',
      'share of invalid messages',
      (v) => {
        const x = Number(v);
        if (!(x >= 0 && x < 0.5)) throw new InvalidArgumentError('--invalid-share must be in [0, 0.5)');
        return x;
      },
      DEFAULT_STREAM.invalidShare,
    )
    .option(
      '--duration <s>',
      'spread the production over this many seconds (default: what the faults take, about 5 min; the last 10% slow down while faults are still to come)',
      int('--duration', 1),
    )
    .option('--batch <n>', 'messages per produce request', int('--batch', 1), 500)
    .option(
      '--faults <list>',
      `faults to inject, in order (default: ${DEFAULT_FAULTS.join(',')}; also restart-registry; or none)`,
      faultList,
      [...DEFAULT_FAULTS],
    )
    .option(
      '--service-signal <sig>',
      'how services are stopped before their restart: KILL (crash) or TERM (clean)',
      (v) => {
        if (v !== 'KILL' && v !== 'TERM') throw new InvalidArgumentError('KILL or TERM');
        return v;
      },
      'KILL',
    )
    .option(
      '--outage <s>',
      "seconds a stopped service stays down before its restart (the processors' retries run out meanwhile)",
      int('--outage', 0),
      5,
    )
    .option('--keep-services', "leave the suite's services running afterwards (faster next run)")
    .option('--stop-services', "only stop the suite's services (left by --keep-services) and exit")
    .option('--out <file>', 'where to write the JSON summary', path.join(REPO_ROOT, '.rankstream/faults/summary.json'))
    .parse();
  const o = program.opts<{
    events: number;
    quick?: boolean;
    seed: number;
    tenants: number;
    invalidShare: number;
    duration?: number;
    batch: number;
    faults: Fault[];
    serviceSignal: 'KILL' | 'TERM';
    outage: number;
    keepServices?: boolean;
    stopServices?: boolean;
    out: string;
  }>();
  const explicitEvents = program.getOptionValueSource('events') === 'cli';
  const events = o.quick && !explicitEvents ? 100_000 : o.events;
  return {
    events,
    seed: o.seed,
    tenants: o.tenants,
    invalidShare: o.invalidShare,
    duration: o.duration ?? expectedFaultSeconds(o.faults, o.outage),
    batch: o.batch,
    faults: o.faults,
    serviceSignal: o.serviceSignal === 'KILL' ? 'SIGKILL' : 'SIGTERM',
    outage: o.outage,
    keepServices: o.keepServices === true,
    stopServices: o.stopServices === true,
    out: o.out,
  };
}

// ------------------------------------------------------------------------------------------------ helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const secs = (ms: number) => Math.round(ms) / 1000;
let t0 = Date.now();
const log = (line: string) => process.stderr.write(`[faults +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(intervalMs);
  }
}

async function httpGet(url: string, timeoutMs = 1000): Promise<{ status: number; body: string } | null> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return { status: res.status, body: await res.text() };
  } catch {
    return null;
  }
}

/** Value of a gauge/counter sample with these labels in Prometheus text, or null. */
function metricValue(text: string, name: string, labels: Record<string, string>): number | null {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (want.every((w) => line.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return null;
}

// ------------------------------------------------------------------------------------------------ processor children

class ProcessorChild {
  private child: ChildProcess | null = null;
  /** Exits we did not cause (crashes), with their code/signal. */
  readonly unexpectedExits: { at: number; how: string }[] = [];
  private expectingExit = false;
  starts = 0;

  constructor(
    readonly name: SuiteProcessor,
    readonly port: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  start(): void {
    fs.appendFileSync(this.logFile, `\n===== ${new Date().toISOString()} start #${++this.starts} =====\n`);
    const fd = fs.openSync(this.logFile, 'a');
    // node --import tsx: one process (the tsx CLI would put a second node between us and the processor).
    const child = spawn(process.execPath, ['--import', 'tsx', 'cli/process.ts', '--only', this.name], {
      cwd: REPO_ROOT,
      env: { ...this.env, PROCESSOR_HTTP_PORT: String(this.port) },
      stdio: ['ignore', fd, fd],
    });
    fs.closeSync(fd);
    this.expectingExit = false;
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      if (!this.expectingExit) {
        const how = signal === null ? `exit code ${code}` : `signal ${signal}`;
        this.unexpectedExits.push({ at: secs(Date.now() - t0), how });
        log(`${this.name}: pid ${child.pid} exited unexpectedly (${how}); restarting it`);
        setTimeout(() => this.start(), 1000);
      }
    });
    this.child = child;
  }

  async ready(timeoutMs = 180_000): Promise<number> {
    return waitFor(
      `${this.name} /readyz`,
      async () => (await httpGet(`${this.url}/readyz`))?.status === 200,
      timeoutMs,
      100,
    );
  }

  async inFlight(): Promise<boolean> {
    const res = await httpGet(`${this.url}/metrics`, 500);
    return res !== null && (metricValue(res.body, 'rankstream_batches_in_flight', { processor: this.name }) ?? 0) > 0;
  }

  /** Freezes (SIGSTOP) or thaws (SIGCONT) the child we started, e.g. to look at its side effects mid-batch. */
  pause(paused: boolean): void {
    this.child?.kill(paused ? 'SIGSTOP' : 'SIGCONT');
  }

  /** Sends a signal to the child we started (by its PID) and waits for it to exit. */
  async stop(signal: 'SIGKILL' | 'SIGTERM', timeoutMs = 40_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      exited.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut && signal === 'SIGTERM') {
      log(`${this.name}: pid ${child.pid} did not stop within ${timeoutMs / 1000}s of SIGTERM; SIGKILL`);
      child.kill('SIGKILL');
      await exited;
    }
  }
}

// ------------------------------------------------------------------------------------------------ producer

interface ProduceStats {
  messages: number;
  valid: number;
  invalid: number;
  requests: number;
  /** Produce requests sent again after failing (the batch may then be in the topic twice; consumers de-duplicate). */
  resends: number;
  errors: string[];
  startedAt: number;
  finishedAt: number | null;
  /** Messages of the last 10% sent at the slower rate while faults were still to come. */
  slowedMessages: number;
  acceptedPerTenant: Map<string, number>;
  /** Accepted events with a non-zero ALS weight (non-impressions), per tenant. */
  weightedPerTenant: Map<string, number>;
  injected: Map<string, InvalidKind>;
}

interface Encoders {
  registry: SchemaRegistryClient;
  ids: EventSchemaIds;
  itemSchemaId: number;
}

async function encode(g: Generated, enc: Encoders): Promise<{ key: string; value: Buffer }> {
  if (g.kind === 'valid') {
    const checked = validateEvent(g.event);
    if (!checked.ok) throw new Error(`generator produced an invalid event ${g.event.eventId}: ${checked.error}`);
    return { key: eventKey(g.event), value: await encodeEvent(enc.registry, enc.ids, g.event) };
  }
  const e = g.event;
  switch (g.invalid) {
    case 'garbage-bytes':
      return { key: g.key, value: Buffer.from(`garbage ${g.key} ${'x'.repeat(40)}`) };
    case 'empty-value':
      return { key: g.key, value: Buffer.alloc(0) };
    case 'unknown-schema-id': {
      const value = Buffer.alloc(40, 7);
      value.writeUInt8(0, 0);
      value.writeInt32BE(987_654_321, 1);
      return { key: g.key, value };
    }
    case 'corrupt-avro': {
      const full = await encodeEvent(enc.registry, enc.ids, e);
      return { key: g.key, value: full.subarray(0, 5 + Math.floor((full.length - 5) / 2)) };
    }
    case 'foreign-schema':
      return {
        key: g.key,
        value: await encodeItem(enc.registry, enc.itemSchemaId, {
          tenant: e.tenant,
          itemId: e.itemId,
          attributes: {},
          numeric: {},
          createdAt: e.timestamp,
          updatedAt: e.timestamp,
          deleted: false,
        }),
      };
    default:
      // the Avro kinds: encoded as-is, bypassing the producer-side validation that would refuse them
      return { key: g.key, value: await enc.registry.encode(enc.ids[e.type], toAvroRecord(e)) };
  }
}

/**
 * The last 10% of the messages go out at a quarter of the rate while faults are still to come, so that every fault
 * happens while events stream (recoveries can take longer than the schedule planned).
 */
const TAIL_SHARE = 0.1;
const TAIL_SLOWDOWN = 4;

async function produce(
  producer: Producer,
  topic: string,
  stream: StreamOptions,
  ratePerS: number,
  batchSize: number,
  enc: Encoders,
  stats: ProduceStats,
  shouldStop: () => boolean,
  slowTail: () => boolean,
): Promise<void> {
  stats.startedAt = Date.now();
  let due = stats.startedAt;
  let batch: { key: string; value: Buffer }[] = [];
  const send = async () => {
    for (let attempt = 0; ; attempt++) {
      try {
        await producer.send({ topic, acks: -1, messages: batch });
        stats.requests++;
        break;
      } catch (err) {
        stats.resends++;
        const msg = err instanceof Error ? err.message : String(err);
        if (stats.errors.length < 10) stats.errors.push(msg);
        log(`producer: send failed (${msg}); resending in 1 s (attempt ${attempt + 1})`);
        if (shouldStop()) throw err;
        await sleep(1000);
      }
    }
    const slow = stats.messages >= stream.events * (1 - TAIL_SHARE) && slowTail();
    if (slow) stats.slowedMessages += batch.length;
    due += (batch.length / (slow ? ratePerS / TAIL_SLOWDOWN : ratePerS)) * 1000;
    stats.messages += batch.length;
    batch = [];
    if (due > Date.now()) await sleep(due - Date.now());
  };
  for (const g of eventStream(stream)) {
    batch.push(await encode(g, enc));
    if (g.kind === 'valid') {
      stats.valid++;
      const t = g.event.tenant;
      stats.acceptedPerTenant.set(t, (stats.acceptedPerTenant.get(t) ?? 0) + 1);
      if (g.event.type !== 'impression') stats.weightedPerTenant.set(t, (stats.weightedPerTenant.get(t) ?? 0) + 1);
    } else {
      stats.invalid++;
      stats.injected.set(g.key, g.invalid);
    }
    if (batch.length >= batchSize) await send();
  }
  if (batch.length > 0) await send();
  stats.finishedAt = Date.now();
}

// ------------------------------------------------------------------------------------------------ main

interface FaultRecord {
  fault: Fault;
  /** Seconds since the suite started. */
  at: number;
  duringProduction: boolean;
  /** Messages produced when the fault was injected. */
  producedAtFault: number;
  /** kill-*: a batch was in flight (rankstream_batches_in_flight > 0) right before the SIGKILL. */
  inFlightAtKill?: boolean;
  /** kill-*: ms spent waiting for the moment to kill. */
  waitedForBatchMs?: number;
  /**
   * kill-ledger-writer, kill-scaler: records whose side effects were durable but whose offsets were not committed
   * when the process was killed (ledger rows / scaler folds beyond the committed offsets), so delivered again after
   * the restart: the re-delivery the idempotence must absorb. The suite freezes the process (SIGSTOP) at random
   * points inside batches until it catches one there, then kills it (SIGKILL).
   */
  appliedBeyondCommitAtKill?: number;
  signal: string;
  /** Lag (uncommitted records) of the affected groups at the fault. */
  lagAtFault: Record<string, string>;
  /** restart-*: ms the service was left down before its restart began. */
  downForMs?: number;
  /** restart-*: ms from the signal to the service answering its readiness probe again. */
  serviceReadyMs?: number;
  /**
   * kill-ledger-writer: what became of the rows applied beyond the commit at the kill: events among them inserted
   * again by the restarted writer (ingested after the restart: re-delivered), and their rows with FINAL (one each).
   */
  ledgerRedelivery?: {
    appliedAtKill: number;
    reinsertedAfterRestart: number;
    rowsFinal: number;
    distinctEvents: number;
  };
  /** kill-*: ms from the SIGKILL to the new process's /readyz answering 200. */
  processReadyMs?: number;
  /** ms from the fault until every affected group committed past what it had committed at the fault, on every partition. */
  resumedMs: number;
  /** restart-*: the same per processor. */
  resumedMsByProcessor?: Record<string, number>;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  t0 = Date.now();
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
    const tenants = [...stats.acceptedPerTenant.keys()].sort();
    const db = config.clickhouse.database;
    const ledgerTable = config.ledger.table;
    const checkStart = Date.now();
    const acceptedIds = function* (): Generator<string> {
      for (const g of eventStream(stream)) if (g.kind === 'valid') yield g.event.eventId;
    };
    const ledger = await checkLedger(clickhouse, db, ledgerTable, acceptedIds, stats.acceptedPerTenant);
    log(
      `ledger: ${ledger.rowsFinal} rows FINAL for ${ledger.accepted} accepted (${ledger.duplicateRowsRaw} re-delivered duplicates before FINAL), lost ${ledger.lost}`,
    );
    const counters = await checkCounters(clickhouse, redis, db, ledgerTable, tenants);
    const als = await checkAlsHistories(clickhouse, redis, db, ledgerTable, tenants, config.als.weights);
    const scores = await checkScores(
      clickhouse,
      redis,
      db,
      ledgerTable,
      tenants,
      { impression: 0, click: 1, engagement: 3, conversion: 5 },
      { popularity: config.features.halfLifeS * 1000, trending: config.features.trendingHalfLifeS * 1000 },
    );
    const markers = await checkMarkers(redis, stats.acceptedPerTenant, stats.weightedPerTenant);
    const scaler = await checkScalerOffsets(clickhouse, redis, db, ledgerTable, topic, tenants);
    const letters = await readDeadLetters(kafka, admin, config.topics.eventsDlq);
    const dlq = classifyDeadLetters(letters, stats.injected);
    const checkMs = Date.now() - checkStart;
    await clickhouse.close();

    const processExits = children.flatMap((c) => c.unexpectedExits.map((e) => ({ processor: c.name, ...e })));
    const checks = {
      ledger,
      redisCounters: counters,
      alsHistories: als,
      popularity: scores.popularity,
      trending: scores.trending,
      dedupeMarkers: markers,
      scalerOffsets: scaler,
      deadLetters: dlq,
    };
    const failed = [
      ...(ledger.ok ? [] : ['ledger']),
      ...Object.entries(counters).flatMap(([k, r]) => (r.ok ? [] : [`redisCounters.${k}`])),
      ...Object.entries(als).flatMap(([k, r]) => (r.ok ? [] : [`alsHistories.${k}`])),
      ...(scores.popularity.ok ? [] : ['popularity']),
      ...(scores.trending.ok ? [] : ['trending']),
      ...(markers.ok ? [] : ['dedupeMarkers']),
      ...(scaler.ok ? [] : ['scalerOffsets']),
      ...(dlq.ok ? [] : ['deadLetters']),
    ];
    const summary = {
      ok: failed.length === 0,
      failed,
      run: {
        runId,
        command: `npm run test:faults${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
        events: opts.events,
        seed: opts.seed,
        tenants: opts.tenants,
        invalidShare: opts.invalidShare,
        faults: opts.faults,
        serviceSignal: opts.serviceSignal,
        machine: {
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? 'unknown',
          memoryGiB: Math.round(os.totalmem() / 2 ** 30),
          node: process.version,
        },
        services: {
          kafka: config.kafka.brokers.join(','),
          registry: config.schemaRegistryUrl,
          redis: config.redisUrl,
          clickhouse: config.clickhouse.url,
          dataDir: path.relative(REPO_ROOT, dataDir),
          startS: secs(servicesUpMs),
        },
      },
      counts: {
        produced: stats.messages,
        accepted: stats.valid,
        rejected: stats.invalid,
        ledgerRowsFinal: ledger.rowsFinal,
        ledgerRowsRaw: ledger.rowsRaw,
        duplicateRowsBeforeFinal: ledger.duplicateRowsRaw,
        duplicateRowsFinal: ledger.duplicateRowsFinal,
        lost: ledger.lost,
        dlqRecords: dlq.records,
        dlqDuplicates: Object.values(dlq.byKind).reduce((s, r) => s + r.duplicates, 0),
        dlqMissing: dlq.missing,
        dlqUnexpected: dlq.unexpected,
      },
      timings: {
        produceS: secs(produceMs),
        produceEventsPerS: Math.round(stats.messages / (produceMs / 1000)),
        pipelineS: secs(pipelineMs),
        pipelineEventsPerS: Math.round(stats.messages / (pipelineMs / 1000)),
        caughtUpAfterS: Object.fromEntries(Object.entries(caughtUpAt).map(([p, t]) => [p, secs(t - stats.startedAt)])),
        checksS: secs(checkMs),
        totalS: secs(Date.now() - t0),
      },
      producer: {
        requests: stats.requests,
        resends: stats.resends,
        errors: stats.errors,
        tailSentSlowly: stats.slowedMessages,
      },
      faults: faultRecords,
      processExits,
      checks,
    };
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

interface FaultContext {
  children: ProcessorChild[];
  admin: Admin;
  groups: Record<SuiteProcessor, string>;
  topic: string;
  stats: ProduceStats;
  infra: InfraOptions;
  signal: 'SIGKILL' | 'SIGTERM';
  outageMs: number;
  clickhouse: ClickHouseClient;
  redis: Redis;
  /** db.table of the ledger. */
  ledger: string;
}

async function inject(fault: Fault, ctx: FaultContext): Promise<FaultRecord> {
  const affected: SuiteProcessor[] = fault.startsWith('kill-')
    ? [fault.slice('kill-'.length) as SuiteProcessor]
    : [...PROCESSORS];
  const lagAtFault: Record<string, string> = {};
  const committedAtFault = new Map<SuiteProcessor, PartitionLag[]>();
  /** Where every affected group stands at the fault (taken while a killed process is frozen, so it cannot commit). */
  const snapshot = async () => {
    for (const p of affected) {
      const lags = await fetchPartitionLags(ctx.admin, ctx.groups[p], ctx.topic);
      committedAtFault.set(p, lags);
      lagAtFault[p] = lags.reduce((sum, l) => sum + l.lag, 0n).toString();
    }
  };
  const base = {
    fault,
    duringProduction: ctx.stats.finishedAt === null,
    producedAtFault: ctx.stats.messages,
    lagAtFault,
  };
  let record: FaultRecord;
  let faultAt: number;
  /** kill-ledger-writer: the ledger rows applied beyond the commit at the kill, as a WHERE condition. */
  let appliedWhere: string | undefined;
  if (fault.startsWith('kill-')) {
    const name = affected[0]!;
    const child = ctx.children.find((c) => c.name === name)!;
    const waitStart = Date.now();
    const probe = appliedBeyondCommitProbe(name, ctx);
    let inFlight = false;
    let applied: Applied | null = null;
    // Freeze the process (SIGSTOP) at a random point inside a batch and kill it there. Where the side effects can be
    // seen by offset (ledger rows, scaler folds), aim at the riskiest point, applied but not committed: look while it
    // is frozen and let it go on (SIGCONT) to try again when the batch is not there yet, for up to a minute.
    while (Date.now() - waitStart < 90_000) {
      if (!(await child.inFlight())) {
        await sleep(5);
        continue;
      }
      await sleep(Math.floor(Math.random() * 40));
      child.pause(true);
      inFlight = true;
      if (probe === null) break;
      // requests the process wrote before it froze (a commit, an insert) still reach the servers: let them land
      await sleep(300);
      applied = await probe().catch((): Applied => ({ applied: 0 }));
      if (applied.applied > 0 || Date.now() - waitStart > 60_000) break;
      child.pause(false);
    }
    if (!inFlight) child.pause(true);
    await snapshot();
    appliedWhere = applied?.where;
    log(
      `${fault}: SIGKILL pid ${child.pid}${inFlight ? ' in the middle of a batch' : ' (no batch in flight seen)'}${applied !== null ? `, ${applied.applied} records applied beyond the committed offsets` : ''}`,
    );
    faultAt = Date.now();
    await child.stop('SIGKILL');
    child.start();
    await child.ready();
    record = {
      ...base,
      at: secs(faultAt - t0),
      inFlightAtKill: inFlight,
      waitedForBatchMs: faultAt - waitStart,
      ...(applied !== null ? { appliedBeyondCommitAtKill: applied.applied } : {}),
      signal: 'SIGKILL',
      processReadyMs: Date.now() - faultAt,
      resumedMs: 0,
    };
  } else {
    const service = fault.slice('restart-'.length) as ServiceName;
    await snapshot();
    log(`${fault}: ${ctx.signal} ${service}, then start it again`);
    faultAt = Date.now();
    await down([service], (l) => log(`infra: ${l}`), { ...ctx.infra, signal: ctx.signal });
    const downForMs = Date.now() - faultAt + ctx.outageMs;
    await sleep(ctx.outageMs);
    await up({ ...ctx.infra, only: [service], log: (l) => log(`infra: ${l}`) });
    record = {
      ...base,
      at: secs(faultAt - t0),
      signal: ctx.signal,
      downForMs,
      serviceReadyMs: Date.now() - faultAt,
      resumedMs: 0,
    };
  }
  // recovered: on every partition, every affected group has committed beyond its position at the fault (or has
  // nothing left to consume there)
  const resumedAt = new Map<SuiteProcessor, number>();
  await waitFor(
    `${affected.join(', ')} to commit again after ${fault}`,
    async () => {
      for (const p of affected) {
        if (resumedAt.has(p)) continue;
        const before = new Map(committedAtFault.get(p)!.map((l) => [l.partition, l.committed ?? -1n]));
        const lags = await fetchPartitionLags(ctx.admin, ctx.groups[p], ctx.topic);
        if (lags.every((now) => now.lag === 0n || (now.committed ?? -1n) > (before.get(now.partition) ?? -1n)))
          resumedAt.set(p, Date.now());
      }
      return resumedAt.size === affected.length;
    },
    10 * 60_000,
    200,
  );
  record.resumedMs = Date.now() - faultAt;
  if (affected.length > 1)
    record.resumedMsByProcessor = Object.fromEntries([...resumedAt].map(([p, t]) => [p, t - faultAt]));
  if (fault === 'kill-ledger-writer' && appliedWhere !== undefined) {
    // ingested_at of a row is its insert's second; after a merge the last insert's row is the one kept
    const restartS = Math.floor(faultAt / 1000) + 1;
    const rs = await ctx.clickhouse.query({
      query: `SELECT uniqExactIf(event_id, ingested_at >= ${restartS}) AS again, count() AS rows, uniqExact(event_id) AS ids FROM ${ctx.ledger} FINAL WHERE ${appliedWhere}`,
      format: 'JSONEachRow',
    });
    const r = (await rs.json<{ again: string; rows: string; ids: string }>())[0];
    record.ledgerRedelivery = {
      appliedAtKill: record.appliedBeyondCommitAtKill ?? 0,
      reinsertedAfterRestart: Number(r?.again ?? 0),
      rowsFinal: Number(r?.rows ?? 0),
      distinctEvents: Number(r?.ids ?? 0),
    };
  }
  return record;
}

/** Committed offset per partition of a group (partitions without a commit are absent). */
async function committedByPartition(admin: Admin, group: string, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map(
    (offsets[0]?.partitions ?? []).filter((p) => BigInt(p.offset) >= 0n).map((p) => [p.partition, BigInt(p.offset)]),
  );
}

/**
 * For processors whose side effects record their Kafka offsets: how many records are applied beyond the group's
 * committed offsets right now (read while the process is frozen). Null for the others.
 */
interface Applied {
  applied: number;
  /** Ledger: the applied rows as a WHERE condition. */
  where?: string;
}

function appliedBeyondCommitProbe(name: SuiteProcessor, ctx: FaultContext): (() => Promise<Applied>) | null {
  if (name === 'ledger-writer') {
    return async () => {
      const committed = await committedByPartition(ctx.admin, ctx.groups[name], ctx.topic);
      if (committed.size === 0) return { applied: 0 };
      const beyond = [...committed].map(([p, o]) => `(kafka_partition = ${p} AND kafka_offset >= ${o})`).join(' OR ');
      const rs = await ctx.clickhouse.query({
        query: `SELECT kafka_partition AS p, toString(max(kafka_offset)) AS last, count() AS n FROM ${ctx.ledger} WHERE ${beyond} GROUP BY p`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ p: number; last: string; n: string | number }>();
      // the applied rows exactly: from the commit to the last one written, per partition (later ones come after the kill)
      const where = rows
        .map(
          (r) =>
            `(kafka_partition = ${r.p} AND kafka_offset BETWEEN ${committed.get(Number(r.p)) ?? 0n} AND ${r.last})`,
        )
        .join(' OR ');
      return { applied: rows.reduce((sum, r) => sum + Number(r.n), 0), ...(rows.length > 0 ? { where } : {}) };
    };
  }
  if (name === 'scaler') {
    return async () => {
      const committed = await committedByPartition(ctx.admin, ctx.groups[name], ctx.topic);
      // per partition: the offsets past the commit that some tenant's accumulator has already folded in
      const beyond = new Map<number, bigint>();
      for (const tenant of ctx.stats.acceptedPerTenant.keys()) {
        for (const [field, raw] of Object.entries(await ctx.redis.hgetall(scalerAccKey(tenant)))) {
          const partition = Number(field.slice(field.lastIndexOf(':') + 1));
          const folded = BigInt((JSON.parse(raw) as { offset: string }).offset);
          const span = folded - (committed.get(partition) ?? 0n) + 1n;
          if (span > (beyond.get(partition) ?? 0n)) beyond.set(partition, span);
        }
      }
      return { applied: Number([...beyond.values()].reduce((a, b) => a + b, 0n)) };
    };
  }
  return null;
}

async function takeLock(lockFile: string): Promise<void> {
  try {
    await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const holder = Number((await fsp.readFile(lockFile, 'utf8')).trim());
    let alive = false;
    try {
      process.kill(holder, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (alive) throw new Error(`another fault-suite run (pid ${holder}) holds ${lockFile}`);
    await fsp.writeFile(lockFile, `${process.pid}\n`);
  }
}

main().catch((err: unknown) => {
  log(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exit(1);
});
