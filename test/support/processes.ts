// bench:load's plumbing: child processes it starts and stops by PID (processors, reader, producer), their resident
// memory and CPU from /proc, and the pure analysis of the stages (lag growth, saturation). Scrapes of their /metrics
// are in prometheus.ts. Linux only (/proc).
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './wait.ts';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

// ------------------------------------------------------------------------------------------------ /proc

const CLOCK_TICKS_PER_S = 100; // USER_HZ: 100 on every Linux architecture Node supports

export interface ProcSample {
  rssBytes: number;
  /** Peak resident set (VmHWM) since the process started. */
  peakRssBytes: number;
  /** User + system CPU time, seconds. */
  cpuSeconds: number;
}

/** Resident memory and CPU time of a process, or null when it is gone. */
export function procSample(pid: number): ProcSample | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    // /proc/<pid>/stat: the command name (field 2) is in parentheses and may contain spaces; utime, stime are fields 14, 15
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM'), cpuSeconds: cpuTicks / CLOCK_TICKS_PER_S };
  } catch {
    return null;
  }
}

export const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

// ------------------------------------------------------------------------------------------------ child processes

export interface Service {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Where its stdout and stderr go. */
  logPath: string;
  /** Its HTTP base URL (health, metrics; the API for the reader), once it logged it. */
  url: Promise<string>;
  exited: Promise<number | null>;
  isRunning(): boolean;
  /** SIGTERM (graceful drain and commit), SIGKILL after the timeout. Resolves with how it ended. */
  stop(timeoutMs?: number): Promise<'exited' | 'killed' | 'gone'>;
}

/**
 * Starts `node --import tsx <script> <args>` (Node itself is the child, so its PID is the process measured) with the
 * given environment; its output goes to <logDir>/<name>.log. `urlMessage` is the log line (pino JSON, msg field) whose
 * `url` field is the process's HTTP base URL.
 */
export function startService(
  name: string,
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logDir: string,
  urlMessage: string,
): Service {
  const logPath = join(logDir, `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.log`);
  const log = createWriteStream(logPath);
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${script}`);
  return wrap(name, child, log, logPath, urlMessage);
}

/** Forks a bench child (`node --import tsx <script>`) with an IPC channel; output as for startService. */
export function forkService(name: string, script: string, env: NodeJS.ProcessEnv, logDir: string): Service {
  const logPath = join(logDir, `${name}.log`);
  const log = createWriteStream(logPath);
  const child = fork(join(REPO_ROOT, script), [], {
    cwd: REPO_ROOT,
    env,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${script}`);
  return wrap(name, child, log, logPath, null);
}

function wrap(
  name: string,
  child: ChildProcess,
  log: NodeJS.WritableStream,
  logPath: string,
  urlMessage: string | null,
): Service {
  const pid = child.pid!;
  let running = true;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running = false;
      resolve(code);
    }),
  );
  let found: (url: string) => void = () => {};
  let failed: (err: Error) => void = () => {};
  const url = new Promise<string>((resolve, reject) => {
    found = resolve;
    failed = reject;
  });
  url.catch(() => {}); // a caller that never asks for the URL must not see an unhandled rejection
  void exited.then((code) => failed(new Error(`${name} exited (code ${code}) before it listened; see ${logPath}`)));
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    stream.pipe(log, { end: false });
    if (urlMessage === null) continue;
    createInterface({ input: stream }).on('line', (line) => {
      if (!line.includes(urlMessage)) return;
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === urlMessage && typeof entry.url === 'string') found(entry.url);
      } catch {
        // not a JSON log line
      }
    });
  }
  return {
    name,
    pid,
    child,
    logPath,
    url,
    exited,
    isRunning: () => running,
    async stop(timeoutMs = 20_000) {
      if (!running) return 'gone';
      child.kill('SIGTERM');
      const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMs).unref());
      if ((await Promise.race([exited.then(() => 'exited' as const), timer])) === 'exited') return 'exited';
      child.kill('SIGKILL');
      await exited;
      return 'killed';
    },
  };
}

/** Polls <url>/readyz until 200, or throws naming the last answer (or the exit of the process). */
export async function waitReady(service: Service, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const base = await Promise.race([
    service.url,
    new Promise<never>((_, reject) =>
      setTimeout(
        () => reject(new Error(`${service.name}: no URL logged within ${timeoutMs} ms; see ${service.logPath}`)),
        timeoutMs,
      ).unref(),
    ),
  ]);
  let last = '';
  const ready = await waitUntil(
    async () => {
      if (!service.isRunning()) throw new Error(`${service.name} exited while starting; see ${service.logPath}`);
      try {
        const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(3000) });
        if (res.status === 200) return true;
        last = await res.text();
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      return false;
    },
    { timeoutMs: deadline - Date.now(), intervalMs: 300 },
  );
  if (ready) return base;
  throw new Error(`${service.name} not ready after ${timeoutMs} ms: ${last.slice(0, 300)}`);
}

// ------------------------------------------------------------------------------------------------ analysis

export interface LagSeries {
  /** Lag (records) at the stage's start, end, and sampled in between (in time order, start and end included). */
  start: number;
  end: number;
  samples: readonly number[];
  /** Records produced during the stage. */
  produced: number;
}

/**
 * Lag "keeps growing" in a stage when it rose by more than 5% of what was produced in it (and by at least `minGrowth`
 * records, above the batch-sized wobble of a consumer that keeps up), and the last third of the samples sits above the
 * first third (a rise, not one late batch).
 */
export function lagKeepsGrowing(s: LagSeries, minGrowth = 2000): boolean {
  const growth = s.end - s.start;
  if (growth <= Math.max(minGrowth, 0.05 * s.produced)) return false;
  const third = Math.max(1, Math.floor(s.samples.length / 3));
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  return mean(s.samples.slice(-third)) > mean(s.samples.slice(0, third));
}

export interface StageVerdict {
  offeredEventsPerS: number;
  laggingGroups: string[];
  feedP99Ms: number;
}

/** The first stage where some group's lag keeps growing or feed p99 exceeds the bound, with the reasons; null if none. */
export function saturationPoint(
  stages: readonly StageVerdict[],
  p99BoundMs: number,
): { stage: number; offeredEventsPerS: number; reasons: string[] } | null {
  for (let i = 0; i < stages.length; i++) {
    const s = stages[i]!;
    const reasons = [
      ...s.laggingGroups.map((g) => `lag keeps growing: ${g}`),
      ...(s.feedP99Ms > p99BoundMs ? [`feed p99 ${s.feedP99Ms} ms > ${p99BoundMs} ms`] : []),
    ];
    if (reasons.length > 0) return { stage: i + 1, offeredEventsPerS: s.offeredEventsPerS, reasons };
  }
  return null;
}

/** Least-squares slope of y over x (per unit of x); 0 for fewer than two points. */
export function slope(points: readonly { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0) / sxx;
}
