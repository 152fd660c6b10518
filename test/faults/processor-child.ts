// The processes under test: each event processor in its own child process (`cli/process.ts --only <name>`), started,
// probed (readiness, batches in flight), frozen and killed by the suite, only ever by its own PID.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { REPO_ROOT } from '../../infra/local/services.ts';
import type { SuiteProcessor } from './options.ts';
import { clockStart, log, secs, waitFor } from './timeline.ts';

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

export class ProcessorChild {
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
        this.unexpectedExits.push({ at: secs(Date.now() - clockStart()), how });
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
