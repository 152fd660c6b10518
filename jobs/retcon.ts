// The retcon job: re-embed a partition's catalogue with the current models and publish a fresh HNSW index for it (a
// tenant, or the shared community partition). It reads the items of the ledger (all of it, or an event-time range,
// deduplicated with FINAL) with their interaction counts and the partition's catalogue; items with enough interactions
// keep their current ALS vector (trained factors plus fold-in's updates), items with few or none get their content
// fingerprint mapped into ALS space by a content map fitted here (core/embeddings/item-embeddings.ts), deleted items are left out.
// The index is built in a child process (dot-product retrieval through the MIPS transform) and announced so readers
// hot-swap to it. Runs as a BullMQ job, deduplicated per partition, with progress; backfills use the same path.
import { Queue, Worker } from 'bullmq';
import type { Config } from '../config/config.ts';
import { embedItems, type HoldoutReport, type ItemEmbeddings } from '../core/embeddings/item-embeddings.ts';
import type { CatalogItem } from '../core/catalog.ts';
import type { ArtifactStore } from '../platform/artifact-store.ts';
import type { ClickHouseClient } from '../platform/clickhouse.ts';
import { readItemInteractionCounts, type LedgerSlice } from '../state/ledger.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import type { AlsModelStore } from '../state/als-models.ts';
import { scanCatalog, takeNewItemCount } from '../state/catalog.ts';
import { ContentVectorStore } from '../state/content-vectors.ts';
import { announceIndex } from '../state/index-pointers.ts';
import { DEFAULT_INDEX_PARAMS, type IndexManifest } from '../state/index-snapshots.ts';
import { listTenants } from '../state/tenants.ts';
import { buildSnapshotInChild } from './index-build-process.ts';
import { bullConnection } from '../platform/queue-connection.ts';

export const RETCON_QUEUE = 'retcon';

export type RetconRequest = LedgerSlice;

export interface RetconResult {
  partition: string;
  version: string;
  ledgerItems: number;
  catalogItems: number;
  indexedItems: number;
  /** How each indexed item got its vector, and what was left out (skipped: no vector and no content yet). */
  embeddings: ItemEmbeddings['counts'];
  contentMap: { version: string; fittedItems: number; holdout: HoldoutReport | null } | null;
  /** Set when a map was fitted but not used (it did no better than the mean vector on held-out items). */
  contentMapRejected: { reason: string; holdout: HoldoutReport | null } | null;
  alsVersion: string;
  scalerVersion: string | null;
  /** Wall time per stage and in all. */
  timings: { readLedger: number; readCatalog: number; embed: number; build: number };
  seconds: number;
}

export interface RetconDeps {
  config: Config;
  clickhouse: ClickHouseClient;
  redis: Redis;
  models: AlsModelStore;
  artifacts: ArtifactStore;
  logger: Logger;
}

export async function retconTenant(
  deps: RetconDeps,
  req: RetconRequest,
  onProgress?: (percent: number) => void | Promise<void>,
): Promise<{ manifest: IndexManifest; result: RetconResult }> {
  const started = performance.now();
  const lap = (() => {
    let t = started;
    return () => {
      const now = performance.now();
      const s = (now - t) / 1000;
      t = now;
      return s;
    };
  })();
  const model = await deps.models.current(req.tenant, 0); // every fold-in update so far
  if (!model)
    throw new Error(
      `partition ${req.tenant} has no ALS model yet: train one first (npm run als -- train --tenant ${req.tenant})`,
    );
  // items arriving from here on count toward the next build's trigger
  await takeNewItemCount(deps.redis, req.tenant);
  // items of the ledger slice with their interaction counts
  const interactions = await readItemInteractionCounts(
    deps.clickhouse,
    deps.config.clickhouse.database,
    deps.config.ledger.table,
    req,
  );
  const readLedger = lap();
  await onProgress?.(5);
  const catalog: CatalogItem[] = [];
  for await (const batch of scanCatalog(deps.redis, req.tenant)) catalog.push(...batch);
  const readCatalog = lap();
  await onProgress?.(10);

  const content = new ContentVectorStore(deps.redis, deps.artifacts);
  const scaler = await content.currentScaler(req.tenant);
  const f = model.factors;
  const r = deps.config.retcon;
  const emb = embedItems({
    factors: f,
    alsVector: (id) => {
      const i = model.itemIndex.get(id);
      return i === undefined ? undefined : model.itemFactors.subarray(i * f, (i + 1) * f);
    },
    interactions,
    catalog,
    scaler: scaler?.snapshot ?? null,
    textAttributes: deps.config.catalog.textAttributes,
    minInteractions: r.contentMinInteractions,
    regularization: r.contentMapRegularization,
    holdoutFraction: 0.1,
  });
  if (emb.itemIds.length === 0)
    throw new Error(
      `no item of partition ${req.tenant} has a vector in ${model.version} or a catalogue record to embed`,
    );
  const sources: Record<string, string> = { als: model.version };
  if (scaler) sources.scaler = scaler.version;
  let contentMap: RetconResult['contentMap'] = null;
  if (emb.map) {
    const m = await content.publish(req.tenant, emb.map, {
      tenant: req.tenant,
      alsVersion: model.version,
      scalerVersion: scaler?.version ?? null,
      spec: emb.spec,
      regularization: r.contentMapRegularization,
      fittedItems: emb.fittedItems,
      holdout: emb.holdout,
    });
    sources.contentMap = m.version;
    contentMap = { version: m.version, fittedItems: emb.fittedItems, holdout: emb.holdout };
  } else {
    // no map for this version: new items get no content vector until one is fitted (they still reach the fresh rail)
    await content.clear(req.tenant);
  }
  const embed = lap();
  await onProgress?.(20);
  const manifest = await buildSnapshotInChild(
    deps.config.artifactsDir,
    {
      partition: req.tenant,
      itemIds: emb.itemIds,
      vectors: emb.vectors,
      dim: f,
      params: DEFAULT_INDEX_PARAMS,
      sources,
      transform: 'mips',
    },
    (points) => void onProgress?.(20 + Math.round((75 * points) / emb.itemIds.length)),
  );
  const build = lap();
  await announceIndex(deps.redis, { partition: req.tenant, version: manifest.version });
  const seconds = (performance.now() - started) / 1000;
  const result: RetconResult = {
    partition: req.tenant,
    version: manifest.version,
    ledgerItems: interactions.size,
    catalogItems: catalog.length,
    indexedItems: emb.itemIds.length,
    embeddings: emb.counts,
    contentMap,
    contentMapRejected: emb.mapRejected ? { reason: emb.mapRejected, holdout: emb.holdout } : null,
    alsVersion: model.version,
    scalerVersion: scaler?.version ?? null,
    timings: { readLedger, readCatalog, embed, build },
    seconds,
  };
  deps.logger.info({ ...result }, 'retcon published an index');
  return { manifest, result };
}

/** Every partition retcon can rebuild: the tenants with data, plus the community partition. */
export async function retconPartitions(redis: Redis, communityPartition: string): Promise<string[]> {
  const tenants = await listTenants(redis);
  return [...new Set([...tenants, communityPartition])].sort();
}

export function retconQueue(config: Config): Queue<RetconRequest, RetconResult> {
  return new Queue<RetconRequest, RetconResult>(RETCON_QUEUE, {
    connection: bullConnection(config),
    prefix: config.queuePrefix,
  });
}

/** Deduplicated per tenant: a trigger while one is waiting or running returns that job. */
export function enqueueRetcon(queue: Queue<RetconRequest, RetconResult>, req: RetconRequest) {
  return queue.add('retcon', req, {
    deduplication: { id: `retcon-${req.tenant}` },
    removeOnComplete: 100,
    removeOnFail: 100,
    attempts: 2,
    backoff: { type: 'exponential', delay: 5000 },
  });
}

/** A periodic rebuild of the tenant's index (BullMQ job scheduler; replaces the tenant's previous schedule). */
export async function scheduleRetcon(
  queue: Queue<RetconRequest, RetconResult>,
  tenant: string,
  everyMs: number,
): Promise<void> {
  await queue.upsertJobScheduler(
    `retcon-schedule-${tenant}`,
    { every: everyMs },
    { name: 'retcon', data: { tenant }, opts: { removeOnComplete: 100, removeOnFail: 100 } },
  );
}

export function startRetconWorker(config: Config, deps: RetconDeps): Worker<RetconRequest, RetconResult> {
  const worker = new Worker<RetconRequest, RetconResult>(
    RETCON_QUEUE,
    async (job) => (await retconTenant(deps, job.data, (p) => job.updateProgress(p))).result,
    {
      connection: bullConnection(config),
      prefix: config.queuePrefix,
      concurrency: 1,
    },
  );
  worker.on('failed', (job, err) => deps.logger.error({ err, tenant: job?.data.tenant }, 'retcon failed'));
  return worker;
}
