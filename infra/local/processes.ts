// The processes we start: PID files under run/ checked against /proc/<pid>/cmdline, start (detached, stdout+stderr
// to logs/<svc>.log) and stop by PID, and run/up.lock, which serialises concurrent up() calls.
//
// Ownership rule: we only ever signal a PID that came from one of our PID files AND whose /proc/<pid>/cmdline
// still names our config/jar (PIDs get reused). Anything else answering on a port is "external" and left alone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Layout } from './layout.ts';
import { isReachable } from './probes.ts';
import type { Log, ServiceDef } from './service-def.ts';

/** Relative to the cwd when inside it (short), absolute otherwise. */
function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel.startsWith('..') || path.isAbsolute(rel) ? p : rel;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function tail(file: string, lines = 40): Promise<string> {
  try {
    const fh = await fsp.open(file, 'r');
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, 64 * 1024);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .slice(-lines - 1)
        .join('\n');
    } finally {
      await fh.close();
    }
  } catch {
    return '(no log)';
  }
}

export function readPid(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie (a zombie is gone for our purposes; its parent just has not reaped it yet). */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 3 follows the parenthesised command name, which may itself contain spaces or parentheses.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

function cmdlineOf(pid: number): string | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return undefined;
  }
}

/** The PID from the service's PID file when that process is alive and still is our service. */
export function ourPid(def: ServiceDef): number | undefined {
  const pid = readPid(def.pidFile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const cmdline = cmdlineOf(pid);
  if (cmdline === undefined) return undefined;
  return def.cmdlineMarkers.every((m) => cmdline.includes(m)) ? pid : undefined;
}

export async function waitUntil(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  intervalMs = 250,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(intervalMs);
  }
}

export async function startProcess(def: ServiceDef, log: Log): Promise<number> {
  await fsp.mkdir(def.confDir, { recursive: true });
  await fsp.mkdir(path.dirname(def.logFile), { recursive: true });
  await fsp.mkdir(path.dirname(def.pidFile), { recursive: true });
  await fsp.appendFile(
    def.logFile,
    `\n===== ${new Date().toISOString()} rankstream infra: starting ${def.name} =====\n`,
  );
  const launch = await def.prepare(log);
  const fd = fs.openSync(def.logFile, 'a');
  // detached: own session, so Ctrl-C on `up` or the test runner exiting does not take the service down.
  const child = spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: launch.env ?? process.env,
    detached: true,
    stdio: ['ignore', fd, fd],
  });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
  } finally {
    // The child has its own copy of the descriptor.
    fs.closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${def.name}: spawn returned no pid`);
  await fsp.writeFile(def.pidFile, `${pid}\n`);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = signal === null ? `exit code ${code}` : `signal ${signal}`;
  });
  child.unref();
  log(`${def.name}: started pid ${pid} (${launch.command.split('/').pop()}), log ${displayPath(def.logFile)}`);

  const ready = await waitUntil(async () => exited !== undefined || (await def.isReady()), def.readyTimeoutMs, 300);
  if (exited !== undefined) {
    await fsp.rm(def.pidFile, { force: true });
    throw new Error(
      `${def.name} exited during startup (${exited}). Last lines of ${def.logFile}:\n${await tail(def.logFile)}`,
    );
  }
  if (!ready) {
    throw new Error(
      `${def.name} (pid ${pid}) not ready on ${def.host}:${def.port} after ${def.readyTimeoutMs / 1000}s; ` +
        `it is left running for inspection (\`npm run infra down\` stops it). Last lines of ${def.logFile}:\n${await tail(def.logFile)}`,
    );
  }
  return pid;
}

/**
 * Stops our process `pid` of `def` with `signal` (SIGTERM escalates to SIGKILL after 20 s), waits until its ports are
 * closed and removes its PID file.
 */
export async function stopProcess(
  def: ServiceDef,
  pid: number,
  signal: 'SIGTERM' | 'SIGKILL',
  log: Log,
): Promise<'stopped' | 'killed'> {
  process.kill(pid, signal);
  let action: 'stopped' | 'killed' = signal === 'SIGKILL' ? 'killed' : 'stopped';
  if (!(await waitUntil(() => !isAlive(pid), signal === 'SIGKILL' ? 5_000 : 20_000, signal === 'SIGKILL' ? 20 : 200))) {
    if (signal === 'SIGKILL') throw new Error(`${def.name}: pid ${pid} survives SIGKILL`);
    log(`${def.name}: pid ${pid} ignored SIGTERM for 20s, sending SIGKILL`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited in between
    }
    action = 'killed';
    if (!(await waitUntil(() => !isAlive(pid), 5_000, 100)))
      throw new Error(`${def.name}: pid ${pid} survives SIGKILL`);
  }
  // The group leader turns zombie while the JVM's other threads are still tearing down and holding the listening
  // sockets: a start right away would find the port taken by "someone else". Gone means its ports are closed too.
  const host = def.host;
  if (
    !(await waitUntil(
      async () => (await Promise.all(def.ports.map((p) => isReachable(host, p, 200)))).every((open) => !open),
      30_000,
      50,
    ))
  ) {
    throw new Error(
      `${def.name}: pid ${pid} has exited but ${def.ports.join(', ')} still accept connections after 30 s`,
    );
  }
  await fsp.rm(def.pidFile, { force: true });
  return action;
}

// ------------------------------------------------------------------------------------------------ lock

/** Serialises up() across processes (two test runs starting at once must not both start Kafka). */
export async function withLock<T>(l: Layout, log: Log, fn: () => Promise<T>): Promise<T> {
  await fsp.mkdir(l.runDir, { recursive: true });
  const lockFile = path.join(l.runDir, 'up.lock');
  const deadline = Date.now() + 15 * 60_000;
  let announced = false;
  for (;;) {
    try {
      await fsp.writeFile(lockFile, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = readPid(lockFile);
      if (holder === undefined || !isAlive(holder)) {
        await fsp.rm(lockFile, { force: true });
        continue;
      }
      // The EEXIST is expected here: what fails is the wait for the holder, not the write.
      // eslint-disable-next-line preserve-caught-error
      if (Date.now() > deadline) throw new Error(`${lockFile} held by pid ${holder} for too long`);
      if (!announced) log(`waiting for another \`up\` (pid ${holder}) to finish`);
      announced = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await fsp.rm(lockFile, { force: true });
  }
}
