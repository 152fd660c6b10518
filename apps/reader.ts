// The thin reader: answers feed requests from the requests topic and over HTTP, from the same FeedService.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { Readiness, redisCheck, trackProducer, type ReadinessCheck } from '../platform/health.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { ContentVectorStore } from '../state/content-vectors.ts';
import { RankerStore } from '../state/ranker-models.ts';
import { decodeFeedRequest, registerFeedSchemas } from '../schemas/feed-codec.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { runConsumer } from '../streams/consumer-runner.ts';
import { limitRecordSize } from '../streams/input-guards.ts';
import { createKafka, createProducer } from '../streams/kafka.ts';
import { startLagMonitor } from '../streams/lag-monitor.ts';
import { listTenants } from '../state/tenants.ts';
import { FeedRequestProcessor } from '../serving/feed-request-processor.ts';
import { FeatureService } from '../serving/feature-service.ts';
import { isRegisteredTenant, resolveApiKey } from '../state/api-keys.ts';
import { ExperimentCache } from '../state/experiments.ts';
import { FeedService } from '../serving/feed-service.ts';
import { IndexManager } from '../serving/index-manager.ts';
import { buildHttpServer } from '../serving/http.ts';
import { RateLimiter } from '../state/rate-limits.ts';
import { readServingModels, registerServingMetrics } from '../serving/serving-metrics.ts';

export interface RunningReader {
  http: FastifyInstance;
  indexes: IndexManager;
  readiness: Readiness;
  url: string;
  stop(): Promise<void>;
}

export async function startReader(
  config: Config,
  logger: Logger,
  metrics: Metrics,
  opts: { groupId?: string; port?: number } = {},
): Promise<RunningReader> {
  const kafka = createKafka(config, logger);
  const registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  const redis = createRedis(config);
  const models = new AlsModelStore(redis, new ArtifactStore(config.artifactsDir));
  const artifacts = new ArtifactStore(config.artifactsDir);
  const contentVectors = new ContentVectorStore(redis, artifacts);
  const indexes = new IndexManager(redis, redis.duplicate(), config.artifactsDir, logger, (t, v, items, source) =>
    source === 'content' ? contentVectors.vectors(t, v, items) : models.itemVectors(t, v, items),
  );
  await indexes.start();
  // load the current index of every partition before reporting ready; retried by the readiness check if it failed
  const warmIndexes = async () =>
    indexes.warm([...new Set([...(await listTenants(redis)), config.communityPartition])].sort());
  warmIndexes().catch((err: unknown) => logger.warn({ err }, 'loading the current indexes failed; readiness retries'));
  const indexesCheck: ReadinessCheck = {
    name: 'indexes',
    check() {
      const w = indexes.warmStatus();
      if (!w || !w.finished) throw new Error(`loading current indexes (${w?.done ?? 0}/${w?.total ?? '?'} partitions)`);
      if (w.error) {
        warmIndexes().catch(() => {});
        throw new Error(`loading current indexes failed: ${w.error}; retrying`);
      }
    },
  };
  const community = { partition: config.communityPartition, isRegistered: (t: string) => isRegisteredTenant(redis, t) };
  const feeds = new FeedService({
    redis,
    modelVersion: config.feed.modelVersion,
    halfLifeMs: config.features.halfLifeS * 1000,
    trendingHalfLifeMs: config.features.trendingHalfLifeS * 1000,
    freshMaxAgeMs: config.catalog.freshMaxAgeS * 1000,
    retrieval: config.retrieval,
    rerank: config.rerank,
    experiments: new ExperimentCache(redis, logger),
    ranker: new RankerStore(redis, artifacts),
    servedLogTtlS: 2 * config.ranker.attributionWindowS + 3600,
    models,
    indexes,
    community,
    logger,
  });
  const limits = { defaultK: config.feed.defaultK, maxK: config.feed.maxK };
  const ids = await registerFeedSchemas(registry, config.topics.feedRequests, config.topics.feeds);
  const producer = createProducer(kafka);
  const producerCheck = trackProducer(producer);
  await producer.connect();
  const consumer = await runConsumer({
    kafka,
    groupId: opts.groupId ?? `${config.runner.groupPrefix}-reader`,
    topic: config.topics.feedRequests,
    dlqTopic: config.topics.feedRequestsDlq,
    decode: limitRecordSize((m) => decodeFeedRequest(registry, m), config.input.maxRecordBytes),
    processor: new FeedRequestProcessor(feeds, limits, registry, ids, producer, config.topics.feeds, metrics),
    logger,
    metrics,
    maxRetries: config.runner.maxRetries,
    retryBackoffMs: config.runner.retryBackoffMs,
    producer,
  });
  const readiness = new Readiness([redisCheck(redis), indexesCheck, producerCheck]);
  registerServingMetrics(metrics.registry, {
    indexes,
    models: () => readServingModels(redis, config.communityPartition),
    logger,
  });
  const lag = await startLagMonitor(kafka, metrics, logger, config.ops.lagIntervalS * 1000);
  const f = config.features;
  const features = new FeatureService(redis, {
    halfLifeMs: f.halfLifeS * 1000,
    trendingHalfLifeMs: f.trendingHalfLifeS * 1000,
    priorStrength: f.priorStrength,
  });
  const http = buildHttpServer({
    feeds,
    features,
    limits,
    metrics,
    logger,
    readiness,
    resolveApiKey: (key) => resolveApiKey(redis, key),
    authRequired: config.authRequired,
    rateLimiter: new RateLimiter(redis, config.rateLimit),
    bodyLimit: config.input.httpBodyLimitBytes,
    maxInFlight: config.http.maxInFlight,
  });
  await http.listen({ host: config.http.host, port: opts.port ?? config.http.port });
  const { port } = http.server.address() as AddressInfo;
  return {
    http,
    indexes,
    readiness,
    url: `http://${config.http.host}:${port}`,
    async stop() {
      readiness.drain();
      await http.close();
      await consumer.stop();
      await lag.stop();
      await producer.disconnect();
      await indexes.stop();
      redis.disconnect();
    },
  };
}
