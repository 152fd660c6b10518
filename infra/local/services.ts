// Local, Docker-free infrastructure: ClickHouse, Redis, Kafka (KRaft) and Apicurio Registry as plain processes
// under $RANKSTREAM_DATA_DIR, bound to 127.0.0.1 only, on the ports the app config (config/config.ts) defaults to.
// A second, independent set (the fault-injection suite's, test/faults) runs from the same functions given
// InfraOptions: another config (ports, data dir), the first set's downloaded jars, another ClickHouse native port.
//
// This file is the orchestrator: the list of services, up/down/status, and the API callers import. The parts:
//   clickhouse.ts, redis.ts, kafka.ts, registry.ts   one service each: readiness probe, config files, start command
//   layout.ts (files under $DATA)   processes.ts (PID files, start/stop, up.lock)   probes.ts (TCP/HTTP reachability)
//   executables.ts (finding binaries and java)       service-def.ts (what a service module provides)
import { spawn } from 'node:child_process';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { loadConfig, type Config } from '../../config/config.ts';
import { clickhouseDef, probeClickHouse } from './clickhouse.ts';
import { kafkaDef, probeKafka } from './kafka.ts';
import { layout, REPO_ROOT, type InfraOptions, type Layout } from './layout.ts';
import { ourPid, readPid, startProcess, stopProcess, tail, waitUntil, withLock } from './processes.ts';
import { isReachable } from './probes.ts';
import { probeRedis, redisDef } from './redis.ts';
import { probeRegistry, registryDef } from './registry.ts';
import type { Log, ServiceDef, ServiceName } from './service-def.ts';

// The API as before the split: callers import all of it from here.
export { probeClickHouse } from './clickhouse.ts';
export { KAFKA_VERSION, probeKafka } from './kafka.ts';
export { CLICKHOUSE_TCP_PORT, layout, REPO_ROOT, type InfraOptions, type Layout } from './layout.ts';
export { isReachable } from './probes.ts';
export { probeRedis } from './redis.ts';
export { REGISTRY_VERSION, probeRegistry } from './registry.ts';
export { SERVICE_NAMES, type Log, type ServiceDef, type ServiceName } from './service-def.ts';

const INSTALL_SH = path.join(REPO_ROOT, 'infra/local/install.sh');

const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

// ------------------------------------------------------------------------------------------------ probes

export interface ServiceUrls {
  /** Comma-separated, as in KAFKA_BROKERS. */
  kafkaBrokers: string;
  schemaRegistryUrl: string;
  redisUrl: string;
  clickhouseUrl: string;
}

export function urlsFromConfig(cfg: Config = loadConfig()): ServiceUrls {
  return {
    kafkaBrokers: cfg.kafka.brokers.join(','),
    schemaRegistryUrl: cfg.schemaRegistryUrl,
    redisUrl: cfg.redisUrl,
    clickhouseUrl: cfg.clickhouse.url,
  };
}

/** Readiness of all four at the given URLs, in parallel. */
export async function probeUrls(urls: ServiceUrls): Promise<Record<ServiceName, boolean>> {
  const [clickhouse, redis, kafka, registry] = await Promise.all([
    probeClickHouse(urls.clickhouseUrl),
    probeRedis(urls.redisUrl),
    probeKafka(splitBrokers(urls.kafkaBrokers)),
    probeRegistry(urls.schemaRegistryUrl),
  ]);
  return { clickhouse, redis, kafka, registry };
}

function splitBrokers(list: string): string[] {
  return list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

// ------------------------------------------------------------------------------------------------ definitions

export function serviceDefs(cfg: Config = loadConfig(), opts: Omit<InfraOptions, 'config'> = {}): ServiceDef[] {
  const l = layout(cfg, opts);
  return [clickhouseDef(cfg, l), redisDef(cfg, l), kafkaDef(cfg, l), registryDef(cfg, l)];
}

// ------------------------------------------------------------------------------------------------ up / down / status

export type UpAction = 'started' | 'running' | 'external';
export interface UpResult {
  name: ServiceName;
  action: UpAction;
  pid?: number;
  endpoint: string;
  ms: number;
}

export interface UpOptions extends InfraOptions {
  log?: Log;
  /** Services to bring up (default: all four). */
  only?: readonly ServiceName[];
}

async function runInstall(components: ServiceName[], l: Layout, log: Log): Promise<void> {
  log(`installing: ${components.join(', ')} (infra/local/install.sh)`);
  const child = spawn('bash', [INSTALL_SH, ...components], {
    cwd: REPO_ROOT,
    env: { ...process.env, RANKSTREAM_DATA_DIR: l.dataDir, RANKSTREAM_DIST_DIR: l.distDir },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`infra/local/install.sh ${components.join(' ')} failed (exit ${code})`);
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

/** One service: reuse ours, leave an external one alone, or start it. */
async function upOne(def: ServiceDef, log: Log): Promise<UpResult> {
  const t0 = Date.now();
  const result = (action: UpAction, pid?: number): UpResult => ({
    name: def.name,
    action,
    pid,
    endpoint: def.endpoint,
    ms: Date.now() - t0,
  });
  const pid = ourPid(def);
  if (pid !== undefined) {
    // Ours but maybe still starting (e.g. a previous `up` timed out): give it the normal startup budget.
    if (!(await waitUntil(() => def.isReady(), def.readyTimeoutMs, 300))) {
      throw new Error(
        `${def.name}: our pid ${pid} is running but not ready. Last lines of ${def.logFile}:\n${await tail(def.logFile)}`,
      );
    }
    return result('running', pid);
  }
  await fsp.rm(def.pidFile, { force: true });
  if (await isReachable(def.host, def.port)) {
    // Not ours; could be a compose stack or another checkout's `up` that is still starting.
    if (!(await waitUntil(() => def.isReady(), 30_000, 500))) {
      throw new Error(
        `${def.host}:${def.port} is taken by a process we did not start and it does not answer as ${def.name}`,
      );
    }
    return result('external');
  }
  if (!isLoopback(def.host)) {
    throw new Error(
      `${def.name} is configured at ${def.endpoint}, which is not local and not reachable; not starting it here`,
    );
  }
  return result('started', await startProcess(def, log));
}

/**
 * Starts every service that is neither ours-and-running nor answered by someone else; all four in parallel.
 * Rejects with every failure's message (each including the tail of that service's log) once all have settled.
 */
export async function up(opts: UpOptions = {}): Promise<UpResult[]> {
  const log = opts.log ?? stderrLog;
  const cfg = opts.config ?? loadConfig();
  const l = layout(cfg, opts);
  const defs = serviceDefs(cfg, opts).filter((d) => opts.only === undefined || opts.only.includes(d.name));
  return withLock(l, log, async () => {
    // Install only what we will have to start.
    const toInstall: ServiceName[] = [];
    for (const def of defs) {
      if (def.installed() || ourPid(def) !== undefined) continue;
      if (await isReachable(def.host, def.port)) continue;
      toInstall.push(def.name);
    }
    if (toInstall.length > 0) await runInstall(toInstall, l, log);

    const settled = await Promise.allSettled(defs.map((def) => upOne(def, log)));
    const failures = settled.flatMap((s) =>
      s.status === 'rejected' ? [s.reason instanceof Error ? s.reason.message : String(s.reason)] : [],
    );
    if (failures.length > 0) throw new Error(failures.join('\n\n'));
    return settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  });
}

/** For test setup: what up() started in this call, so teardown stops exactly that. */
export async function ensureServices(opts: UpOptions = {}): Promise<{ startedByUs: ServiceName[] }> {
  const results = await up(opts);
  return { startedByUs: results.filter((r) => r.action === 'started').map((r) => r.name) };
}

export type DownAction = 'stopped' | 'killed' | 'not-running' | 'stale-pid-file';
export interface DownResult {
  name: ServiceName;
  action: DownAction;
  pid?: number;
}

async function downOne(def: ServiceDef, log: Log, signal: 'SIGTERM' | 'SIGKILL'): Promise<DownResult> {
  const pidInFile = readPid(def.pidFile);
  if (pidInFile === undefined) return { name: def.name, action: 'not-running' };
  const pid = ourPid(def);
  if (pid === undefined) {
    // Dead, or the PID now belongs to some other program: never signal it.
    await fsp.rm(def.pidFile, { force: true });
    return { name: def.name, action: 'stale-pid-file', pid: pidInFile };
  }
  return { name: def.name, action: await stopProcess(def, pid, signal, log), pid };
}

export interface DownOptions extends InfraOptions {
  /** SIGTERM (default: a clean stop, SIGKILL after 20 s) or SIGKILL (a crash, for fault injection). */
  signal?: 'SIGTERM' | 'SIGKILL';
}

/** Stops the services we started (all, or `only`). External processes are never touched. */
export async function down(
  only?: readonly ServiceName[],
  log: Log = stderrLog,
  opts: DownOptions = {},
): Promise<DownResult[]> {
  const defs = serviceDefs(opts.config ?? loadConfig(), opts).filter(
    (d) => only === undefined || only.includes(d.name),
  );
  return Promise.all(defs.map((def) => downOne(def, log, opts.signal ?? 'SIGTERM')));
}

export type ServiceState = 'running' | 'external' | 'down';
export interface StatusResult {
  name: ServiceName;
  state: ServiceState;
  pid?: number;
  /** Accepts TCP connections on its client port. */
  reachable: boolean;
  /** Answers its readiness probe. */
  ready: boolean;
  endpoint: string;
  ports: number[];
  logFile: string;
}

export async function status(opts: InfraOptions = {}): Promise<StatusResult[]> {
  return Promise.all(
    serviceDefs(opts.config ?? loadConfig(), opts).map(async (def) => {
      const pid = ourPid(def);
      const [reachable, ready] = await Promise.all([isReachable(def.host, def.port), def.isReady()]);
      const state: ServiceState = pid !== undefined ? 'running' : reachable ? 'external' : 'down';
      return {
        name: def.name,
        state,
        pid,
        reachable,
        ready,
        endpoint: def.endpoint,
        ports: def.ports,
        logFile: def.logFile,
      };
    }),
  );
}
