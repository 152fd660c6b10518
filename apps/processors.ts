// Starts the event processors (ledger writer, features, scaler, ALS fold-in), each in its own consumer group on the events
// topic, and the catalogue processor on the items topic.
import type { Queue } from 'bullmq';
import type { CatalogItem } from '../core/catalog.ts';
import type { Config } from '../config/config.ts';
import type { InteractionEvent } from '../core/events.ts';
import { decayParams } from '../core/features/popularity.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createClickHouse, type ClickHouseClient } from '../platform/clickhouse.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { createRedis, type Redis } from '../platform/redis.ts';
import { enqueueRetcon, retconQueue, type RetconRequest, type RetconResult } from '../jobs/retcon.ts';
import { decodeEvent } from '../schemas/event-codec.ts';
import { decodeItem } from '../schemas/item-codec.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { runConsumer, type BatchProcessor, type RunningConsumer } from '../streams/consumer-runner.ts';
import { createKafka } from '../streams/kafka.ts';
import { AlsFoldInProcessor } from '../processors/als-fold-in.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { CatalogProcessor } from '../processors/catalog.ts';
import { RankerExampleLog } from '../state/ranker-examples.ts';
import { RankerStore } from '../state/ranker-models.ts';
import { RankerTrainer } from '../processors/ranker-trainer.ts';
import { ContentVectorStore } from '../state/content-vectors.ts';
import { FeaturesProcessor } from '../processors/features.ts';
import { LedgerWriter } from '../processors/ledger-writer.ts';
import { ScalerProcessor, ScalerPublisher } from '../processors/scaler.ts';
import { isRegisteredTenant } from '../state/api-keys.ts';
import { limitRecordSize, requireRegisteredTenant } from '../streams/input-guards.ts';
import type { RecordDecoder } from '../streams/consumer-runner.ts';

export interface RunningProcessors {
  stop(): Promise<void>;
}

/** Every processor startProcessors can run: the event processors (one consumer group each) and the catalogue. */
export const PROCESSOR_NAMES = [
  'ledger-writer',
  'features',
  'scaler',
  'als-fold-in',
  'ranker-trainer',
  'catalog',
] as const;
export type ProcessorName = (typeof PROCESSOR_NAMES)[number];

export interface ProcessorHooks {
  /** Also called with a tenant's created/updated catalogue items once they reached Redis and got content vectors. */
  onItemsApplied?: (tenant: string, items: CatalogItem[]) => Promise<void>;
  /**
   * Run only these processors (default: all). Each processor has its own consumer group, so they can run in separate
   * processes, restarted and scaled independently (`npm run process -- --only ledger-writer,features`).
   */
  only?: readonly ProcessorName[];
}

export async function startProcessors(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  groupPrefix = config.runner.groupPrefix,
  hooks: ProcessorHooks = {},
): Promise<RunningProcessors> {
  const kafka = createKafka(config, logger);
  const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  const clickhouse = createClickHouse(config);
  const redis = createRedis(config);
  const f = config.features;
  const artifacts = new ArtifactStore(config.artifactsDir);
  const alsModels = new AlsModelStore(redis, artifacts);
  const wanted = (name: ProcessorName) => hooks.only === undefined || hooks.only.includes(name);
  const all: (BatchProcessor<InteractionEvent> & { name: ProcessorName })[] = [
    new LedgerWriter(clickhouse, config.clickhouse.database, config.ledger.table),
    new FeaturesProcessor(redis, decayParams(f.halfLifeS, f.trendingHalfLifeS), f),
    new ScalerProcessor(
      redis,
      new ScalerPublisher(redis, artifacts, config.scaler),
      config.scaler.publishIntervalS * 1000,
      logger,
    ),
    new AlsFoldInProcessor(redis, alsModels, {
      weights: config.als.weights,
      historyMaxItems: config.als.historyMaxItems,
      historyTtlS: f.seenTtlS,
      dedupeTtlS: f.dedupeTtlS,
    }),
    new RankerTrainer(
      redis,
      new RankerStore(redis, artifacts),
      new RankerExampleLog(clickhouse, config.clickhouse.database, config.ranker.examplesTable),
      {
        attributionWindowMs: config.ranker.attributionWindowS * 1000,
        publishIntervalMs: config.ranker.publishIntervalS * 1000,
        params: config.ranker.params,
      },
      logger,
    ),
  ];
  const processors = all.filter((p) => wanted(p.name));
  const running: RunningConsumer[] = [];
  for (const processor of processors) {
    running.push(
      await runConsumer({
        kafka,
        groupId: `${groupPrefix}-${processor.name}`,
        topic: config.topics.events,
        dlqTopic: config.topics.eventsDlq,
        decode: guarded(config, redis, (m) => decodeEvent(registry, m)),
        processor,
        undecodable: processor instanceof LedgerWriter ? 'dead-letter' : 'skip',
        logger,
        metrics,
        maxRetries: config.runner.maxRetries,
        retryBackoffMs: config.runner.retryBackoffMs,
      }),
    );
  }
  if (!wanted('catalog')) return stopper(running, null, clickhouse, redis);
  // The retcon queue opens its Redis connection only when a tenant first crosses the new-items trigger.
  let retcon: Queue<RetconRequest, RetconResult> | null = null;
  const contentVectors = new ContentVectorStore(redis, artifacts);
  const catalog = new CatalogProcessor(clickhouse, config.clickhouse.database, config.catalog.table, redis, {
    newItemsTrigger: config.retcon.newItemsTrigger,
    enqueueRetcon: async (tenant) => {
      // an index needs a model: before the tenant's first training the new items simply wait for it (training triggers retcon)
      if (!(await alsModels.currentVersion(tenant))) return;
      retcon ??= retconQueue(config);
      await enqueueRetcon(retcon, { tenant });
    },
    // new and changed items get their content vector in the current ALS space at once; readers upsert it
    onApplied: async (tenant: string, items: CatalogItem[]) => {
      await contentVectors.embed(tenant, items);
      await hooks.onItemsApplied?.(tenant, items);
    },
  });
  running.push(
    await runConsumer({
      kafka,
      groupId: `${groupPrefix}-${catalog.name}`,
      topic: config.topics.items,
      dlqTopic: config.topics.itemsDlq,
      decode: guarded(config, redis, (m) => decodeItem(registry, m)),
      processor: catalog,
      undecodable: 'dead-letter', // the only reader of the items topic
      logger,
      metrics,
      maxRetries: config.runner.maxRetries,
      retryBackoffMs: config.runner.retryBackoffMs,
    }),
  );
  return stopper(running, () => retcon, clickhouse, redis);
}

function stopper(
  running: RunningConsumer[],
  retcon: (() => Queue<RetconRequest, RetconResult> | null) | null,
  clickhouse: ClickHouseClient,
  redis: Redis,
): RunningProcessors {
  return {
    async stop() {
      await Promise.all(running.map((r) => r.stop()));
      await retcon?.()?.close();
      await clickhouse.close();
      redis.disconnect();
    },
  };
}

/** Bad input the schemas do not stop: records over MAX_RECORD_BYTES and, with REQUIRE_REGISTERED_TENANTS, unregistered tenants. */
function guarded<T extends { tenant: string }>(
  config: Config,
  redis: Redis,
  decode: RecordDecoder<T>,
): RecordDecoder<T> {
  const checked = config.input.requireRegisteredTenants
    ? requireRegisteredTenant(decode, (t) => isRegisteredTenant(redis, t), [config.communityPartition])
    : decode;
  return limitRecordSize(checked, config.input.maxRecordBytes);
}
