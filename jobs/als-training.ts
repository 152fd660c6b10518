// The ALS batch training job: read a tenant's interactions from the ClickHouse ledger (deduplicated with FINAL),
// aggregate them per (user, item) with the configured event-type weights, train, and publish a new model version.
// Runs as a BullMQ job (deduplicated per tenant: a second trigger while one is queued or running is a no-op) or
// directly (tests, benchmarks).
import { Queue, QueueEvents, Worker, type Job } from 'bullmq';
import type { Config } from '../config/config.ts';
import { csrFromTriples } from '../core/math/sparse.ts';
import type { ArtifactManifest } from '../platform/artifact-store.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import { readInteractionMatrix, type InteractionMatrix, type LedgerSlice } from '../state/ledger.ts';
import type { Logger } from '../platform/logger.ts';
import type { AlsMeta, AlsModelStore } from '../state/als-models.ts';
import { trainAlsInChild } from './als-train-process.ts';
import { bullConnection } from '../platform/queue-connection.ts';

export const ALS_QUEUE = 'als-training';

export type AlsTrainingRequest = LedgerSlice;

export interface AlsTrainingResult {
  version: string;
  nUsers: number;
  nItems: number;
  interactions: number;
  trainSeconds: number;
}

export interface AlsTrainingDeps {
  config: Config;
  clickhouse: ClickHouseClient;
  models: AlsModelStore;
  /** Scaler version current at training time, recorded for lineage. */
  scalerVersion: (tenant: string) => Promise<string | null>;
  logger: Logger;
}

/** Reads the aggregated interaction matrix of a tenant from the ledger. */
export function readInteractions(
  clickhouse: ClickHouseClient,
  config: Config,
  req: AlsTrainingRequest,
): Promise<InteractionMatrix> {
  return readInteractionMatrix(clickhouse, config.clickhouse.database, config.ledger.table, req, config.als.weights);
}

export async function trainTenantAls(
  deps: AlsTrainingDeps,
  req: AlsTrainingRequest,
  onProgress?: (p: number) => Promise<void> | void,
): Promise<{ manifest: ArtifactManifest<AlsMeta>; result: AlsTrainingResult }> {
  const { config, logger } = deps;
  const data = await readInteractions(deps.clickhouse, config, req);
  if (data.rows.length === 0)
    throw new Error(
      `no interactions for tenant ${req.tenant} in the ledger${req.sinceMs !== undefined || req.untilMs !== undefined ? ' in the requested range' : ''}`,
    );
  const R = csrFromTriples(data.users.length, data.items.length, data.rows, data.cols, data.values);
  const started = performance.now();
  const model = await trainAlsInChild(
    R,
    config.als.params,
    (iteration) => void onProgress?.(Math.round((100 * iteration) / config.als.params.iterations)),
  );
  const trainSeconds = (performance.now() - started) / 1000;
  const manifest = await deps.models.publish(req.tenant, model, data.users, data.items, {
    tenant: req.tenant,
    nUsers: data.users.length,
    nItems: data.items.length,
    interactions: data.rows.length,
    params: config.als.params,
    weights: config.als.weights,
    trainSeconds,
    scalerVersion: await deps.scalerVersion(req.tenant),
  });
  logger.info(
    { tenant: req.tenant, version: manifest.version, users: data.users.length, items: data.items.length, trainSeconds },
    'ALS model published',
  );
  return {
    manifest,
    result: {
      version: manifest.version,
      nUsers: data.users.length,
      nItems: data.items.length,
      interactions: data.rows.length,
      trainSeconds,
    },
  };
}

export function alsQueue(config: Config): Queue<AlsTrainingRequest, AlsTrainingResult> {
  return new Queue<AlsTrainingRequest, AlsTrainingResult>(ALS_QUEUE, {
    connection: bullConnection(config),
    prefix: config.queuePrefix,
  });
}

/**
 * Enqueues training for a tenant. Deduplicated by tenant: while a job for the tenant is waiting or running, another
 * trigger returns that job instead of queueing a second one.
 */
export async function enqueueAlsTraining(
  queue: Queue<AlsTrainingRequest, AlsTrainingResult>,
  req: AlsTrainingRequest,
): Promise<Job<AlsTrainingRequest, AlsTrainingResult>> {
  return queue.add('train', req, {
    deduplication: { id: `als-${req.tenant}` },
    removeOnComplete: 100,
    removeOnFail: 100,
    attempts: 2,
    backoff: { type: 'exponential', delay: 5000 },
  });
}

/**
 * Runs queued training jobs. `onPublished` is called after each new version (the retcon trigger: a new model means
 * the tenant's index should be rebuilt with it).
 */
export function startAlsWorker(
  config: Config,
  deps: AlsTrainingDeps,
  onPublished?: (result: AlsTrainingResult, tenant: string) => Promise<void>,
): { worker: Worker<AlsTrainingRequest, AlsTrainingResult>; events: QueueEvents } {
  const worker = new Worker<AlsTrainingRequest, AlsTrainingResult>(
    ALS_QUEUE,
    async (job) => {
      const { result } = await trainTenantAls(deps, job.data, (p) => job.updateProgress(p));
      await onPublished?.(result, job.data.tenant);
      return result;
    },
    { connection: bullConnection(config), prefix: config.queuePrefix, concurrency: 1 },
  );
  worker.on('failed', (job, err) => deps.logger.error({ err, tenant: job?.data.tenant }, 'ALS training failed'));
  return {
    worker,
    events: new QueueEvents(ALS_QUEUE, { connection: bullConnection(config), prefix: config.queuePrefix }),
  };
}
