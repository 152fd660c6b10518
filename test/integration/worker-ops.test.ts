// The BullMQ worker processes (`npm run als -- worker`, `npm run retcon -- worker`) on real Redis: each serves /livez,
// /readyz and /metrics on its own port; /metrics shows its queue's job counts by state and the jobs it finished by
// outcome; on SIGTERM it drains and exits 0.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fetchMetrics, metricSum } from '../support/prometheus.ts';
import { startService, waitReady, type Service } from '../support/processes.ts';
import { ALS_QUEUE } from '../../jobs/als-training.ts';
import { RETCON_QUEUE, enqueueRetcon, retconQueue } from '../../jobs/retcon.ts';
import { isolatedConfig } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const config = isolatedConfig('workers');
const logDir = mkdtempSync(join(tmpdir(), 'rs-worker-ops-'));
const services: Service[] = [];

afterAll(async () => {
  for (const s of services) await s.stop(5_000);
  rmSync(logDir, { recursive: true, force: true });
});

/** Starts a worker CLI on any free ops port; resolves once its /readyz answers 200, with its ops URL. */
async function startWorker(cli: 'als' | 'retcon'): Promise<{ service: Service; url: string }> {
  const env = { ...config.env, RANKSTREAM_LOG_LEVEL: 'info', ALS_WORKER_HTTP_PORT: '0', RETCON_WORKER_HTTP_PORT: '0' };
  const service = startService(
    `${cli}-worker`,
    `cli/${cli}.ts`,
    ['worker'],
    env,
    logDir,
    'health and metrics listening',
  );
  services.push(service);
  return { service, url: await waitReady(service, 60_000) };
}

describe('worker processes', () => {
  it('retcon worker: probes, queue depth and failed jobs on /metrics, clean exit on SIGTERM', async () => {
    const { service, url } = await startWorker('retcon');
    expect((await fetch(`${url}/livez`)).status).toBe(200);

    // a retcon for a tenant without a model fails (twice: it retries once after 5 s)
    const queue = retconQueue(config);
    try {
      await enqueueRetcon(queue, { tenant: `no-model-${config.suffix}`.replace(/_/g, '-') });
      const metrics = await eventually(
        'both attempts failed and counted',
        () => fetchMetrics(url),
        (m) =>
          metricSum(m, 'rankstream_jobs_total', { queue: RETCON_QUEUE, outcome: 'failed' }) === 2 &&
          metricSum(m, 'rankstream_queue_jobs', { queue: RETCON_QUEUE, state: 'failed' }) === 1,
        60_000,
      );
      expect(
        metrics.some(
          (m) =>
            m.name === 'rankstream_queue_jobs' &&
            m.labels.queue === RETCON_QUEUE &&
            m.labels.state === 'waiting' &&
            m.value === 0,
        ),
      ).toBe(true);
      expect(metricSum(metrics, 'rankstream_job_seconds_count', { queue: RETCON_QUEUE })).toBe(2);
      expect(metrics.some((m) => m.name === 'rankstream_process_resident_memory_bytes')).toBe(true);
    } finally {
      await queue.close();
    }

    expect(await service.stop()).toBe('exited');
    expect(await service.exited).toBe(0);
  });

  it('ALS worker: ready, with its own queue on /metrics', async () => {
    const { service, url } = await startWorker('als');
    const report = (await (await fetch(`${url}/readyz`)).json()) as {
      status: string;
      checks: Record<string, { ok: boolean }>;
    };
    expect(report.status).toBe('ready');
    expect(Object.keys(report.checks).sort()).toEqual(['redis', 'shutdown', 'worker']);
    const metrics = await fetchMetrics(url);
    expect(
      metrics.some(
        (m) =>
          m.name === 'rankstream_queue_jobs' &&
          m.labels.queue === ALS_QUEUE &&
          m.labels.state === 'waiting' &&
          m.value === 0,
      ),
    ).toBe(true);
    expect(await service.stop()).toBe('exited');
    expect(await service.exited).toBe(0);
  });
});
