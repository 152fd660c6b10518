// The retcon job: re-embed a tenant's catalogue with the current models and publish a fresh HNSW index for its
// partition. It reads the items of the tenant's ledger (all of it, or an event-time range, deduplicated with FINAL),
// takes each item's vector from the tenant's current ALS version (trained factors plus fold-in's updates), builds the
// index in a child process (dot-product retrieval through the MIPS transform), and announces the version so readers
// hot-swap to it. Runs as a BullMQ job, deduplicated per tenant, with progress; backfills use the same path.
import { Queue, Worker } from 'bullmq';
import type { Config } from '../core/config.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import { ledgerSliceFrom, type LedgerSlice } from '../processors/ledger-writer.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import type { AlsModelStore } from '../processors/als-model-store.ts';
import { scalerCurrentKey } from '../processors/scaler.ts';
import { DEFAULT_INDEX_PARAMS, type IndexManifest } from '../serving/index/index-snapshot.ts';
import { announceIndex } from '../serving/index/index-manager.ts';
import { buildSnapshotInChild } from './index-build-process.ts';
import { bullConnection } from './queue-connection.ts';

export const RETCON_QUEUE = 'retcon';

export type RetconRequest = LedgerSlice;

export interface RetconResult {
  partition: string;
  version: string;
  ledgerItems: number;
  indexedItems: number;
  /** Ledger items without a model vector yet (they enter at the next training or fold-in). */
  skippedItems: number;
  alsVersion: string;
  seconds: number;
}

export interface RetconDeps {
  config: Config;
  clickhouse: ClickHouseClient;
  redis: Redis;
  models: AlsModelStore;
  logger: Logger;
}

async function ledgerItems(clickhouse: ClickHouseClient, config: Config, req: RetconRequest): Promise<string[]> {
  const rs = await clickhouse.query({
    query: `SELECT DISTINCT item_id ${ledgerSliceFrom(config.clickhouse.database, config.ledger.table, req)}`,
    format: 'JSONEachRow',
  });
  const items: string[] = [];
  for await (const chunk of rs.stream()) for (const row of chunk) items.push(row.json<{ item_id: string }>().item_id);
  return items;
}

export async function retconTenant(deps: RetconDeps, req: RetconRequest, onProgress?: (percent: number) => void | Promise<void>): Promise<{ manifest: IndexManifest; result: RetconResult }> {
  const started = performance.now();
  const model = await deps.models.current(req.tenant, 0); // every fold-in update so far
  if (!model) throw new Error(`tenant ${req.tenant} has no ALS model yet: train one first (npm run als -- train --tenant ${req.tenant})`);
  const items = await ledgerItems(deps.clickhouse, deps.config, req);
  await onProgress?.(10);
  const f = model.factors;
  const itemIds: string[] = [];
  const vectors = new Float64Array(items.length * f);
  for (const id of items) {
    const i = model.itemIndex.get(id);
    if (i === undefined) continue;
    vectors.set(model.itemFactors.subarray(i * f, (i + 1) * f), itemIds.length * f);
    itemIds.push(id);
  }
  if (itemIds.length === 0) throw new Error(`no item of tenant ${req.tenant} has a vector in ${model.version}`);
  const sources: Record<string, string> = { als: model.version };
  const scaler = await deps.redis.get(scalerCurrentKey(req.tenant));
  if (scaler) sources.scaler = scaler;
  const manifest = await buildSnapshotInChild(
    deps.config.artifactsDir,
    { partition: req.tenant, itemIds, vectors: vectors.subarray(0, itemIds.length * f), dim: f, params: DEFAULT_INDEX_PARAMS, sources, transform: 'mips' },
    (points) => void onProgress?.(10 + Math.round((85 * points) / itemIds.length)),
  );
  await announceIndex(deps.redis, { partition: req.tenant, version: manifest.version });
  const seconds = (performance.now() - started) / 1000;
  deps.logger.info({ tenant: req.tenant, version: manifest.version, items: itemIds.length, seconds }, 'retcon published an index');
  return { manifest, result: { partition: req.tenant, version: manifest.version, ledgerItems: items.length, indexedItems: itemIds.length, skippedItems: items.length - itemIds.length, alsVersion: model.version, seconds } };
}

export function retconQueue(config: Config): Queue<RetconRequest, RetconResult> {
  return new Queue<RetconRequest, RetconResult>(RETCON_QUEUE, { connection: bullConnection(config), prefix: config.queuePrefix });
}

/** Deduplicated per tenant: a trigger while one is waiting or running returns that job. */
export function enqueueRetcon(queue: Queue<RetconRequest, RetconResult>, req: RetconRequest) {
  return queue.add('retcon', req, { deduplication: { id: `retcon-${req.tenant}` }, removeOnComplete: 100, removeOnFail: 100, attempts: 2, backoff: { type: 'exponential', delay: 5000 } });
}

/** A periodic rebuild of the tenant's index (BullMQ job scheduler; replaces the tenant's previous schedule). */
export async function scheduleRetcon(queue: Queue<RetconRequest, RetconResult>, tenant: string, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(`retcon-schedule-${tenant}`, { every: everyMs }, { name: 'retcon', data: { tenant }, opts: { removeOnComplete: 100, removeOnFail: 100 } });
}

export function startRetconWorker(config: Config, deps: RetconDeps): Worker<RetconRequest, RetconResult> {
  const worker = new Worker<RetconRequest, RetconResult>(RETCON_QUEUE, async (job) => (await retconTenant(deps, job.data, (p) => job.updateProgress(p))).result, {
    connection: bullConnection(config),
    prefix: config.queuePrefix,
    concurrency: 1,
  });
  worker.on('failed', (job, err) => deps.logger.error({ err, tenant: job?.data.tenant }, 'retcon failed'));
  return worker;
}
