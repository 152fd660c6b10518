// The BullMQ worker processes (`npm run als -- worker`, `npm run retcon -- worker`) on real Redis: each serves /livez,
// /readyz and /metrics on its own port; /metrics shows its queue's job counts by state and the jobs it finished by
// outcome; SIGTERM turns /readyz 503 and the process exits 0.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { ALS_QUEUE } from '../../jobs/als-training.ts';
import { RETCON_QUEUE, enqueueRetcon, retconQueue } from '../../jobs/retcon.ts';
import { eventually, isolatedConfig } from './harness.ts';

const config = isolatedConfig('workers');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
});

/** Starts a worker CLI on any free ops port and resolves with the URL it logs. */
async function startWorker(cli: 'als' | 'retcon'): Promise<{ child: ChildProcess; url: string }> {
  const env = { ...config.env, RANKSTREAM_LOG_LEVEL: 'info', ALS_WORKER_HTTP_PORT: '0', RETCON_WORKER_HTTP_PORT: '0' };
  const child = spawn(process.execPath, ['--import', 'tsx', `cli/${cli}.ts`, 'worker'], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cli} worker did not log its ops URL within 60 s`)), 60_000);
    child.once('exit', (code) => reject(new Error(`${cli} worker exited ${code} before listening`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'health and metrics listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
  });
  return { child, url };
}

const metricValue = (text: string, name: string, labels: Record<string, string>): number | undefined => {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && want.every((w) => l.includes(w)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('worker processes', () => {
  it('retcon worker: probes, queue depth and failed jobs on /metrics, clean exit on SIGTERM', async () => {
    const { child, url } = await startWorker('retcon');
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    await eventually('retcon worker ready', async () => (await fetch(`${url}/readyz`)).status, (s) => s === 200, 30_000);

    // a retcon for a tenant without a model fails (twice: it retries once after 5 s)
    const queue = retconQueue(config);
    try {
      await enqueueRetcon(queue, { tenant: `no-model-${config.suffix}`.replace(/_/g, '-') });
      const metrics = await eventually(
        'both attempts failed and counted',
        async () => (await fetch(`${url}/metrics`)).text(),
        (text) => metricValue(text, 'rankstream_jobs_total', { queue: RETCON_QUEUE, outcome: 'failed' }) === 2 && metricValue(text, 'rankstream_queue_jobs', { queue: RETCON_QUEUE, state: 'failed' }) === 1,
        60_000,
      );
      expect(metricValue(metrics, 'rankstream_queue_jobs', { queue: RETCON_QUEUE, state: 'waiting' })).toBe(0);
      expect(metricValue(metrics, 'rankstream_job_seconds_count', { queue: RETCON_QUEUE })).toBe(2);
      expect(metrics).toContain('rankstream_process_resident_memory_bytes');
    } finally {
      await queue.close();
    }

    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('ALS worker: ready, with its own queue on /metrics', async () => {
    const { child, url } = await startWorker('als');
    const report = await eventually('ALS worker ready', async () => (await fetch(`${url}/readyz`)).json() as Promise<{ status: string; checks: Record<string, { ok: boolean }> }>, (r) => r.status === 'ready', 30_000);
    expect(Object.keys(report.checks).sort()).toEqual(['redis', 'shutdown', 'worker']);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metricValue(metrics, 'rankstream_queue_jobs', { queue: ALS_QUEUE, state: 'waiting' })).toBe(0);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
