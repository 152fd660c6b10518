// The one typed configuration: every setting comes from an env var with a default that runs locally out of the box
// (the local infra and docker-compose.yml bind the same loopback ports). What each variable means, its validation and
// its default are declared once, in config/settings.ts (docs/configuration.md is generated from it); this module
// shapes the parsed values into the nested Config the processes use.
import type { z } from 'zod';
import type { RerankConfig } from '../core/funnel/rerank.ts';
import type { FtrlParams } from '../core/models/ftrl.ts';
import { DEFAULT_LAMBDAMART, type LambdaMartParams } from '../core/models/lambdamart.ts';
import { settingsSchema } from './settings.ts';

export type RawConfig = z.infer<typeof settingsSchema>;

/** Every environment variable the configuration reads (deployment manifests are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(settingsSchema.shape);

export interface Config {
  dataDir: string;
  logLevel: RawConfig['RANKSTREAM_LOG_LEVEL'];
  kafka: { brokers: string[]; clientId: string };
  schemaRegistryUrl: string;
  redisUrl: string;
  clickhouse: { url: string; database: string; user: string; password: string };
  topics: {
    events: string;
    eventsDlq: string;
    feedRequests: string;
    feedRequestsDlq: string;
    feeds: string;
    items: string;
    itemsDlq: string;
    partitions: number;
  };
  runner: { groupPrefix: string; maxRetries: number; retryBackoffMs: number };
  ledger: { table: string };
  catalog: {
    table: string;
    /** Attributes fingerprinted as free text rather than as categories. */
    textAttributes: string[];
    /** How far back (from the tenant's latest event) an item still counts as fresh. */
    freshMaxAgeS: number;
  };
  /** Stage 1: each rail's share of the feed's slots (normalised over the rails that have candidates), and the ANN pool bound. */
  retrieval: { shares: { ann: number; popular: number; trending: number; fresh: number }; maxPool: number };
  /** Stage 4 defaults (core/funnel/rerank.ts); a request adds its own business rules. */
  rerank: { config: RerankConfig; poolFactor: number };
  /** Stage 3: the online click model (FTRL) learned from impressions joined with clicks inside the window. */
  ranker: {
    attributionWindowS: number;
    publishIntervalS: number;
    params: FtrlParams;
    /** Where the trainer appends each impression's served context and label, for the batch tree ranker. */
    examplesTable: string;
    /** How far back the batch tree ranker trains from. */
    trainDays: number;
    lambdamart: LambdaMartParams;
  };
  retcon: {
    /** Rebuild a tenant's index once this many new items entered its catalogue (0: never on new items). */
    newItemsTrigger: number;
    /** Items with fewer interactions are indexed with (a blend toward) their content embedding. */
    contentMinInteractions: number;
    contentMapRegularization: number;
  };
  features: {
    halfLifeS: number;
    trendingHalfLifeS: number;
    maxItems: number;
    ttlS: number;
    seenMaxItems: number;
    seenTtlS: number;
    recentMaxItems: number;
    /** How long an event id is remembered for de-duplication (re-delivery, replays). */
    dedupeTtlS: number;
    /** Pseudo-trials of the tenant-wide rate that smooth every per-item / per-user rate. */
    priorStrength: number;
  };
  /** Immutable model artifacts (scaler versions, ALS factors); default <dataDir>/artifacts. */
  artifactsDir: string;
  scaler: { minSamples: number; minDrift: number; maxDrift: number; publishIntervalS: number };
  als: {
    params: {
      factors: number;
      regularization: number;
      alpha: number;
      iterations: number;
      cgSteps: number;
      seed: number;
    };
    /** Interaction strength per event type; negative values are negative feedback. */
    weights: Record<'impression' | 'click' | 'engagement' | 'conversion', number>;
    historyMaxItems: number;
  };
  /** BullMQ key prefix (queues live in the same Redis). */
  queuePrefix: string;
  /**
   * The reader's HTTP listener. maxInFlight: API requests (/v1/*) served at once; one more is answered 503 with
   * Retry-After, so a slow dependency (Redis) cannot pile requests up (memory, sockets) without bound; 0 = no limit.
   */
  http: { host: string; port: number; maxInFlight: number };
  /**
   * Ops servers of the processes without an API (processors; ALS and retcon workers, on processorHttp.host), the
   * consumer-lag refresh interval, and how long a graceful shutdown may take.
   */
  ops: {
    processorHttp: { host: string; port: number };
    alsWorkerHttpPort: number;
    retconWorkerHttpPort: number;
    lagIntervalS: number;
    shutdownTimeoutS: number;
  };
  /** Require an API key on every HTTP request (the tenant then always comes from the key). */
  authRequired: boolean;
  /** The read-only partition a registered tenant with no data of its own is served from. */
  communityPartition: string;
  /** Per-API-key token bucket on the HTTP API, shared by every reader through Redis; perS 0 turns it off. */
  rateLimit: { perS: number; burst: number };
  /**
   * Bounds on what comes in: Kafka records over maxRecordBytes are dead-lettered without decoding; HTTP bodies over
   * httpBodyLimitBytes are 413; with requireRegisteredTenants, events and items of a tenant without an API key (and
   * not the community partition) are dead-lettered.
   */
  input: { maxRecordBytes: number; httpBodyLimitBytes: number; requireRegisteredTenants: boolean };
  feed: { defaultK: number; maxK: number; modelVersion: string };
  demo: { logPath: string; tenant: string };
}

/** Parses config from an env-like record; throws one error naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = settingsSchema.safeParse(env);
  if (!parsed.success) {
    const details = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${details}`);
  }
  const c = parsed.data;
  return {
    dataDir: c.RANKSTREAM_DATA_DIR,
    logLevel: c.RANKSTREAM_LOG_LEVEL,
    kafka: { brokers: c.KAFKA_BROKERS, clientId: c.KAFKA_CLIENT_ID },
    schemaRegistryUrl: c.SCHEMA_REGISTRY_URL,
    redisUrl: c.REDIS_URL,
    clickhouse: {
      url: c.CLICKHOUSE_URL,
      database: c.CLICKHOUSE_DATABASE,
      user: c.CLICKHOUSE_USER,
      password: c.CLICKHOUSE_PASSWORD,
    },
    topics: {
      events: c.TOPIC_EVENTS,
      eventsDlq: c.TOPIC_EVENTS_DLQ,
      feedRequests: c.TOPIC_FEED_REQUESTS,
      feedRequestsDlq: c.TOPIC_FEED_REQUESTS_DLQ,
      feeds: c.TOPIC_FEEDS,
      items: c.TOPIC_ITEMS,
      itemsDlq: c.TOPIC_ITEMS_DLQ,
      partitions: c.TOPIC_PARTITIONS,
    },
    runner: {
      groupPrefix: c.CONSUMER_GROUP_PREFIX,
      maxRetries: c.RUNNER_MAX_RETRIES,
      retryBackoffMs: c.RUNNER_RETRY_BACKOFF_MS,
    },
    ledger: { table: c.LEDGER_TABLE },
    catalog: { table: c.CATALOG_TABLE, textAttributes: c.CATALOG_TEXT_ATTRIBUTES, freshMaxAgeS: c.FRESH_MAX_AGE_S },
    retrieval: {
      shares: {
        ann: c.RETRIEVAL_SHARE_ANN,
        popular: c.RETRIEVAL_SHARE_POPULAR,
        trending: c.RETRIEVAL_SHARE_TRENDING,
        fresh: c.RETRIEVAL_SHARE_FRESH,
      },
      maxPool: c.RETRIEVAL_MAX_POOL,
    },
    rerank: {
      poolFactor: c.RERANK_POOL_FACTOR,
      config: {
        mmrLambda: c.RERANK_MMR_LAMBDA,
        maxPerCategory: c.RERANK_MAX_PER_CATEGORY > 0 ? c.RERANK_MAX_PER_CATEGORY : null,
        freshnessBoost: c.RERANK_FRESHNESS_BOOST,
        freshnessHalfLifeMs: c.RERANK_FRESHNESS_HALF_LIFE_S * 1000,
        rules: { pin: [], boost: [], exclude: [] },
        exploration:
          c.EXPLORATION === 'epsilon-greedy'
            ? { kind: 'epsilon-greedy', epsilon: c.EXPLORATION_EPSILON, slots: c.EXPLORATION_SLOTS }
            : c.EXPLORATION === 'thompson'
              ? {
                  kind: 'thompson',
                  slots: c.EXPLORATION_SLOTS,
                  priorClicks: c.THOMPSON_PRIOR_CLICKS,
                  priorShows: Math.max(c.THOMPSON_PRIOR_SHOWS, c.THOMPSON_PRIOR_CLICKS + 1),
                  draws: c.THOMPSON_DRAWS,
                }
              : { kind: 'none' },
      },
    },
    ranker: {
      attributionWindowS: c.RANKER_ATTRIBUTION_WINDOW_S,
      publishIntervalS: c.RANKER_PUBLISH_INTERVAL_S,
      params: {
        alpha: c.RANKER_ALPHA,
        beta: 1,
        l1: c.RANKER_L1,
        l2: c.RANKER_L2,
        bits: 20,
        baseLogit: Math.log(c.RANKER_PRIOR_CTR / (1 - c.RANKER_PRIOR_CTR)),
      },
      examplesTable: c.RANKER_EXAMPLES_TABLE,
      trainDays: c.RANKER_TRAIN_DAYS,
      lambdamart: {
        ...DEFAULT_LAMBDAMART,
        trees: c.RANKER_TREES,
        maxDepth: c.RANKER_TREE_DEPTH,
        learningRate: c.RANKER_TREE_LEARNING_RATE,
        minLeafDocs: c.RANKER_TREE_MIN_LEAF,
      },
    },
    retcon: {
      newItemsTrigger: c.RETCON_NEW_ITEMS_TRIGGER,
      contentMinInteractions: c.CONTENT_MIN_INTERACTIONS,
      contentMapRegularization: c.CONTENT_MAP_REGULARIZATION,
    },
    features: {
      halfLifeS: c.POPULARITY_HALF_LIFE_S,
      trendingHalfLifeS: c.TRENDING_HALF_LIFE_S,
      maxItems: c.POPULARITY_MAX_ITEMS,
      ttlS: c.POPULARITY_TTL_S,
      seenMaxItems: c.SEEN_MAX_ITEMS,
      seenTtlS: c.SEEN_TTL_S,
      recentMaxItems: c.RECENT_MAX_ITEMS,
      dedupeTtlS: c.DEDUPE_TTL_S,
      priorStrength: c.FEATURE_PRIOR_STRENGTH,
    },
    artifactsDir: c.ARTIFACTS_DIR ?? `${c.RANKSTREAM_DATA_DIR}/artifacts`,
    scaler: {
      minSamples: c.SCALER_MIN_SAMPLES,
      minDrift: c.SCALER_MIN_DRIFT,
      maxDrift: c.SCALER_MAX_DRIFT,
      publishIntervalS: c.SCALER_PUBLISH_INTERVAL_S,
    },
    als: {
      params: {
        factors: c.ALS_FACTORS,
        regularization: c.ALS_REGULARIZATION,
        alpha: c.ALS_ALPHA,
        iterations: c.ALS_ITERATIONS,
        cgSteps: c.ALS_CG_STEPS,
        seed: 42,
      },
      weights: {
        impression: c.ALS_WEIGHT_IMPRESSION,
        click: c.ALS_WEIGHT_CLICK,
        engagement: c.ALS_WEIGHT_ENGAGEMENT,
        conversion: c.ALS_WEIGHT_CONVERSION,
      },
      historyMaxItems: c.ALS_HISTORY_MAX_ITEMS,
    },
    queuePrefix: c.QUEUE_PREFIX,
    http: { host: c.HTTP_HOST, port: c.HTTP_PORT, maxInFlight: c.HTTP_MAX_IN_FLIGHT },
    ops: {
      processorHttp: { host: c.PROCESSOR_HTTP_HOST, port: c.PROCESSOR_HTTP_PORT },
      alsWorkerHttpPort: c.ALS_WORKER_HTTP_PORT,
      retconWorkerHttpPort: c.RETCON_WORKER_HTTP_PORT,
      lagIntervalS: c.CONSUMER_LAG_INTERVAL_S,
      shutdownTimeoutS: c.SHUTDOWN_TIMEOUT_S,
    },
    authRequired: c.AUTH_REQUIRED,
    communityPartition: c.COMMUNITY_PARTITION,
    rateLimit: { perS: c.RATE_LIMIT_PER_S, burst: c.RATE_LIMIT_BURST },
    input: {
      maxRecordBytes: c.MAX_RECORD_BYTES,
      httpBodyLimitBytes: c.HTTP_BODY_LIMIT_BYTES,
      requireRegisteredTenants: c.REQUIRE_REGISTERED_TENANTS,
    },
    feed: { defaultK: c.FEED_DEFAULT_K, maxK: c.FEED_MAX_K, modelVersion: c.MODEL_VERSION },
    demo: { logPath: c.DEMO_LOG_PATH, tenant: c.DEMO_TENANT },
  };
}
