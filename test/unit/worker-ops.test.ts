// The BullMQ workers' metrics and readiness (apps/worker-ops.ts) over stand-in queue and worker objects; the real
// queues are exercised by test/integration/worker-ops.test.ts.
import { EventEmitter } from 'node:events';
import type { Job, Worker } from 'bullmq';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerQueueMetrics, trackWorkerJobs, workerCheck } from '../../apps/worker-ops.ts';
import { createLogger } from '../../platform/logger.ts';

const silent = createLogger('silent', 'test');

describe('worker ops', () => {
  it("reports each queue's job counts per state at scrape time, and keeps the last values when Redis fails", async () => {
    const registry = new Registry();
    let counts: Record<string, number> = { waiting: 3, active: 1 };
    let fail = false;
    registerQueueMetrics(
      registry,
      [
        {
          name: 'retcon',
          getJobCounts: async () => {
            if (fail) throw new Error('down');
            return counts;
          },
        },
      ],
      silent,
    );
    const read = async () =>
      (await registry.getSingleMetric('rankstream_queue_jobs')!.get()).values.filter(
        (v) => v.labels.queue === 'retcon',
      );
    let values = await read();
    expect(values.find((v) => v.labels.state === 'waiting')?.value).toBe(3);
    expect(values.find((v) => v.labels.state === 'active')?.value).toBe(1);
    expect(values.find((v) => v.labels.state === 'failed')?.value).toBe(0);
    counts = { waiting: 7 };
    expect((await read()).find((v) => v.labels.state === 'waiting')?.value).toBe(7);
    fail = true;
    values = await read();
    expect(values.find((v) => v.labels.state === 'waiting')?.value).toBe(7);
  });

  it('counts finished jobs by outcome and observes their run time', async () => {
    const registry = new Registry();
    const worker = Object.assign(new EventEmitter(), { name: 'als-training' });
    trackWorkerJobs(registry, worker as unknown as Pick<Worker, 'name' | 'on'>);
    worker.emit('completed', { processedOn: 1_000, finishedOn: 31_000 } as Job);
    worker.emit('failed', { processedOn: 1_000, finishedOn: 2_000 } as Job, new Error('x'));
    worker.emit('failed', undefined, new Error('no job'));
    worker.emit('failed', { processedOn: Date.now() - 500 } as Job, new Error('will be retried: no finishedOn yet'));
    const jobs = (await registry.getSingleMetric('rankstream_jobs_total')!.get()).values;
    expect(jobs.find((v) => v.labels.outcome === 'completed')?.value).toBe(1);
    expect(jobs.find((v) => v.labels.outcome === 'failed')?.value).toBe(3);
    const seconds = (await registry.getSingleMetric('rankstream_job_seconds')!.get()).values;
    const sum =
      (seconds as { metricName?: string; value: number }[]).find((v) => v.metricName === 'rankstream_job_seconds_sum')
        ?.value ?? 0;
    expect(sum).toBeGreaterThanOrEqual(31.5);
    expect(sum).toBeLessThan(32.5);
    expect(
      (seconds as { metricName?: string; value: number }[]).find((v) => v.metricName === 'rankstream_job_seconds_count')
        ?.value,
    ).toBe(3);
  });

  it('is not ready once the worker stopped taking jobs', async () => {
    let running = true;
    const check = workerCheck({ isRunning: () => running });
    expect(() => check.check()).not.toThrow();
    running = false;
    expect(() => check.check()).toThrow('worker is not running');
  });
});
