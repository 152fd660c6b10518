// Health and metrics for the BullMQ worker processes (ALS training, retcon), which have no API of their own: the same
// /livez, /readyz and /metrics routes as the processors' ops server, on their own port. Queue depth is what these
// workers scale by (they take jobs from Redis, not Kafka partitions), so /metrics reports the job counts per state,
// read from the queue at each scrape, and the jobs this worker finished, by outcome and duration.
import type { Job, Queue, Worker } from 'bullmq';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { Readiness, redisCheck, type ReadinessCheck } from '../platform/health.ts';
import type { Logger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { startOpsServer, type OpsServer } from '../platform/ops-server.ts';
import type { Redis } from '../platform/redis.ts';

export const QUEUE_JOB_STATES = [
  'waiting',
  'active',
  'delayed',
  'prioritized',
  'waiting-children',
  'failed',
  'completed',
] as const;

/** Training and index builds take seconds to tens of minutes. */
const JOB_SECONDS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600];

/** rankstream_queue_jobs{queue,state}: the queues' job counts, read at each scrape. */
export function registerQueueMetrics(
  registry: Registry,
  queues: readonly Pick<Queue, 'name' | 'getJobCounts'>[],
  logger: Logger,
): void {
  new Gauge({
    name: 'rankstream_queue_jobs',
    help: 'Jobs in a BullMQ queue by state (waiting, active, delayed, failed, completed, ...), read at scrape time.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const queue of queues) {
        try {
          const counts = await queue.getJobCounts(...QUEUE_JOB_STATES);
          for (const state of QUEUE_JOB_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        } catch (err) {
          // a scrape while Redis is down keeps the last values; readiness reports the outage
          logger.warn(
            { err: { message: err instanceof Error ? err.message : String(err) }, queue: queue.name },
            'queue job counts unavailable',
          );
        }
      }
    },
  });
}

/** rankstream_jobs_total{queue,outcome} and rankstream_job_seconds{queue}: the jobs this worker finished. */
export function trackWorkerJobs(registry: Registry, worker: Pick<Worker, 'name' | 'on'>): void {
  const jobs = new Counter({
    name: 'rankstream_jobs_total',
    help: 'Job attempts this worker finished, by queue and outcome (completed, failed; a failed attempt may be retried).',
    labelNames: ['queue', 'outcome'],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: 'rankstream_job_seconds',
    help: 'Job run time (processing start to finish), by queue.',
    labelNames: ['queue'],
    buckets: JOB_SECONDS_BUCKETS,
    registers: [registry],
  });
  const finished = (job: Job | undefined, outcome: 'completed' | 'failed') => {
    jobs.inc({ queue: worker.name, outcome });
    // an attempt that will be retried has no finishedOn yet: it ended now
    if (job?.processedOn !== undefined)
      seconds.observe({ queue: worker.name }, Math.max(0, (job.finishedOn ?? Date.now()) - job.processedOn) / 1000);
  };
  worker.on('completed', (job: Job) => finished(job, 'completed'));
  worker.on('failed', (job: Job | undefined) => finished(job, 'failed'));
}

/** Ready while Redis answers and the worker is taking jobs. */
export function workerCheck(worker: Pick<Worker, 'isRunning'>): ReadinessCheck {
  return {
    name: 'worker',
    check() {
      if (!worker.isRunning()) throw new Error('worker is not running');
    },
  };
}

export interface WorkerOps {
  readiness: Readiness;
  server: OpsServer;
}

/** Starts the ops server of a worker process: liveness, readiness (Redis, worker), Prometheus with queue metrics. */
export async function startWorkerOps(opts: {
  host: string;
  port: number;
  worker: Worker;
  queue: Queue;
  redis: Redis;
  logger: Logger;
}): Promise<WorkerOps> {
  const metrics = createMetrics();
  registerQueueMetrics(metrics.registry, [opts.queue], opts.logger);
  trackWorkerJobs(metrics.registry, opts.worker);
  const readiness = new Readiness([redisCheck(opts.redis), workerCheck(opts.worker)]);
  const server = await startOpsServer({ host: opts.host, port: opts.port, metrics, readiness, logger: opts.logger });
  opts.logger.info({ url: server.url, queue: opts.queue.name }, 'health and metrics listening');
  return { readiness, server };
}
