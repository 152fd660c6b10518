// The one typed configuration module. Every setting comes from an env var with a default that runs locally
// out of the box (the local infra and docker-compose.yml bind the same loopback ports).
import { z } from 'zod';
import type { RerankConfig } from '../core/funnel/rerank.ts';
import type { FtrlParams } from '../core/models/ftrl.ts';
import { DEFAULT_LAMBDAMART, type LambdaMartParams } from '../core/models/lambdamart.ts';

const positiveInt = z.coerce.number().int().positive();
const list = z.string().transform((s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0),
);

const schema = z.object({
  RANKSTREAM_DATA_DIR: z.string().default('.rankstream'),
  RANKSTREAM_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  KAFKA_BROKERS: list.default(['127.0.0.1:19092']),
  KAFKA_CLIENT_ID: z.string().default('rankstream'),
  SCHEMA_REGISTRY_URL: z.string().url().default('http://127.0.0.1:18081/apis/ccompat/v7'),
  REDIS_URL: z.string().default('redis://127.0.0.1:16379'),
  CLICKHOUSE_URL: z.string().url().default('http://127.0.0.1:18123'),
  CLICKHOUSE_DATABASE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('rankstream'),
  CLICKHOUSE_USER: z.string().default('default'),
  CLICKHOUSE_PASSWORD: z.string().default(''),

  TOPIC_EVENTS: z.string().default('rankstream.events'),
  TOPIC_EVENTS_DLQ: z.string().default('rankstream.events.dlq'),
  TOPIC_FEED_REQUESTS: z.string().default('rankstream.feed-requests'),
  TOPIC_FEED_REQUESTS_DLQ: z.string().default('rankstream.feed-requests.dlq'),
  TOPIC_FEEDS: z.string().default('rankstream.feeds'),
  TOPIC_ITEMS: z.string().default('rankstream.items'),
  TOPIC_ITEMS_DLQ: z.string().default('rankstream.items.dlq'),
  TOPIC_PARTITIONS: positiveInt.default(4),

  CONSUMER_GROUP_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/)
    .default('rankstream'),
  RUNNER_MAX_RETRIES: z.coerce.number().int().min(0).default(3),
  RUNNER_RETRY_BACKOFF_MS: positiveInt.default(200),

  LEDGER_TABLE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('ledger'),
  CATALOG_TABLE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('items'),
  CATALOG_TEXT_ATTRIBUTES: list.default(['title', 'description']),
  FRESH_MAX_AGE_S: positiveInt.default(7 * 24 * 3600),

  RETRIEVAL_SHARE_ANN: z.coerce.number().min(0).default(0.7),
  RETRIEVAL_SHARE_POPULAR: z.coerce.number().min(0).default(0.1),
  RETRIEVAL_SHARE_TRENDING: z.coerce.number().min(0).default(0.1),
  RETRIEVAL_SHARE_FRESH: z.coerce.number().min(0).default(0.1),
  /** Candidates the ANN pool may widen to when filters (seen, excluded, constraints) remove too many. */
  RETRIEVAL_MAX_POOL: positiveInt.default(5000),

  RERANK_MMR_LAMBDA: z.coerce.number().min(0).max(1).default(1),
  RERANK_MAX_PER_CATEGORY: z.coerce.number().int().min(0).default(0),
  RERANK_FRESHNESS_BOOST: z.coerce.number().min(0).default(0),
  RERANK_FRESHNESS_HALF_LIFE_S: positiveInt.default(24 * 3600),
  RERANK_POOL_FACTOR: z.coerce.number().int().min(1).max(50).default(3),
  EXPLORATION: z.enum(['none', 'epsilon-greedy', 'thompson']).default('none'),
  EXPLORATION_EPSILON: z.coerce.number().min(0).max(1).default(0.1),
  EXPLORATION_SLOTS: z.coerce.number().int().min(0).default(1),
  THOMPSON_PRIOR_CLICKS: z.coerce.number().min(1).default(1),
  THOMPSON_PRIOR_SHOWS: z.coerce.number().min(2).default(20),
  THOMPSON_DRAWS: positiveInt.default(100),

  RANKER_ATTRIBUTION_WINDOW_S: positiveInt.default(1800),
  RANKER_PUBLISH_INTERVAL_S: positiveInt.default(30),
  RANKER_ALPHA: z.coerce.number().positive().default(0.05),
  RANKER_L1: z.coerce.number().min(0).default(1),
  RANKER_L2: z.coerce.number().min(0).default(1),
  RANKER_PRIOR_CTR: z.coerce.number().positive().max(0.5).default(0.02),
  RANKER_EXAMPLES_TABLE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
    .default('ranker_examples'),
  RANKER_TRAIN_DAYS: positiveInt.default(30),
  RANKER_TREES: positiveInt.default(100),
  RANKER_TREE_DEPTH: positiveInt.max(8).default(4),
  RANKER_TREE_LEARNING_RATE: z.coerce.number().positive().max(1).default(0.1),
  RANKER_TREE_MIN_LEAF: positiveInt.default(20),

  RETCON_NEW_ITEMS_TRIGGER: z.coerce.number().int().min(0).default(500),
  CONTENT_MIN_INTERACTIONS: positiveInt.default(5),
  CONTENT_MAP_REGULARIZATION: z.coerce.number().positive().default(10), // best of 0.1/1/10/30 on ml-latest-small's holdout (bench:retcon)

  POPULARITY_HALF_LIFE_S: positiveInt.default(6 * 3600),
  TRENDING_HALF_LIFE_S: positiveInt.default(3600),
  RECENT_MAX_ITEMS: positiveInt.default(50),
  DEDUPE_TTL_S: positiveInt.default(7 * 24 * 3600),
  FEATURE_PRIOR_STRENGTH: positiveInt.default(100),
  POPULARITY_MAX_ITEMS: positiveInt.default(10_000),
  POPULARITY_TTL_S: positiveInt.default(14 * 24 * 3600),
  SEEN_MAX_ITEMS: positiveInt.default(500),
  SEEN_TTL_S: positiveInt.default(30 * 24 * 3600),

  ARTIFACTS_DIR: z.string().optional(),
  SCALER_MIN_SAMPLES: positiveInt.default(1000),
  SCALER_MIN_DRIFT: z.coerce.number().min(0).default(0.1),
  SCALER_MAX_DRIFT: z.coerce.number().positive().default(3),
  SCALER_PUBLISH_INTERVAL_S: positiveInt.default(30),

  ALS_FACTORS: positiveInt.default(64),
  // defaults: DEFAULT_ALS_PARAMS, tuned on MovieLens with the offline protocol (docs/offline-evaluation.md)
  ALS_REGULARIZATION: z.coerce.number().positive().default(30),
  ALS_ALPHA: z.coerce.number().positive().default(3),
  ALS_ITERATIONS: positiveInt.default(15),
  ALS_CG_STEPS: positiveInt.default(3),
  ALS_WEIGHT_IMPRESSION: z.coerce.number().default(0),
  ALS_WEIGHT_CLICK: z.coerce.number().default(1),
  ALS_WEIGHT_ENGAGEMENT: z.coerce.number().default(3),
  ALS_WEIGHT_CONVERSION: z.coerce.number().default(5),
  ALS_HISTORY_MAX_ITEMS: positiveInt.default(1000),
  QUEUE_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('rankstream'),

  AUTH_REQUIRED: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  COMMUNITY_PARTITION: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .default('community'),
  // bad input and security (docs/operations.md, "Bad input and security")
  RATE_LIMIT_PER_S: z.coerce.number().min(0).default(100), // requests per second per API key (token bucket in Redis); 0 = no limit
  RATE_LIMIT_BURST: positiveInt.default(200),
  MAX_RECORD_BYTES: positiveInt.default(512 * 1024), // larger Kafka records are dead-lettered undecoded
  HTTP_BODY_LIMIT_BYTES: positiveInt.default(64 * 1024),
  // load shedding (docs/operations.md, "Load and backpressure"): API requests in flight per reader; past it, 503; 0 = no limit
  HTTP_MAX_IN_FLIGHT: z.coerce.number().int().min(0).default(256),
  REQUIRE_REGISTERED_TENANTS: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),

  HTTP_HOST: z.string().default('127.0.0.1'),
  HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(18080), // 0 = any free port
  // operations (docs/operations.md): the processors' health/metrics port, lag refresh, shutdown bound
  PROCESSOR_HTTP_HOST: z.string().default('127.0.0.1'),
  PROCESSOR_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(18082), // 0 = any free port
  // the ALS and retcon workers' health and metrics servers (on PROCESSOR_HTTP_HOST); 0 = any free port
  ALS_WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(18083),
  RETCON_WORKER_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(18084),
  CONSUMER_LAG_INTERVAL_S: z.coerce.number().positive().default(15),
  SHUTDOWN_TIMEOUT_S: positiveInt.default(30),
  FEED_DEFAULT_K: positiveInt.default(10),
  FEED_MAX_K: positiveInt.default(200),
  MODEL_VERSION: z.string().default('popularity-v1'),

  DEMO_LOG_PATH: z.string().default('../shared/datasets/taobao-userbehavior-stream/UserBehavior.csv'),
  DEMO_TENANT: z.string().default('taobao'),
});

export type RawConfig = z.infer<typeof schema>;

/** Every environment variable the configuration reads (deployment manifests are checked against it). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

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
  const parsed = schema.safeParse(env);
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

/**
 * Env overrides that give one run (a test file, a benchmark, the fault suite) its own topics, ClickHouse tables,
 * consumer groups and job queues, so it never shares state with a deployment or with another run on the same
 * services. One list here, so a new topic or table cannot be forgotten by one of the callers.
 */
export function isolatedEnv(scope: string, run: string): Record<string, string> {
  if (!/^[A-Za-z0-9-]+$/.test(scope) || !/^[A-Za-z0-9_]+$/.test(run))
    throw new Error(`isolatedEnv: scope must match [A-Za-z0-9-]+ and run [A-Za-z0-9_]+ (got '${scope}', '${run}')`);
  const topic = (name: string) => `${scope}.${run}.${name}`;
  const table = (name: string) => `${name}_${scope.replaceAll('-', '_')}_${run}`;
  return {
    TOPIC_EVENTS: topic('events'),
    TOPIC_EVENTS_DLQ: topic('events.dlq'),
    TOPIC_FEED_REQUESTS: topic('feed-requests'),
    TOPIC_FEED_REQUESTS_DLQ: topic('feed-requests.dlq'),
    TOPIC_FEEDS: topic('feeds'),
    TOPIC_ITEMS: topic('items'),
    TOPIC_ITEMS_DLQ: topic('items.dlq'),
    LEDGER_TABLE: table('ledger'),
    CATALOG_TABLE: table('items'),
    RANKER_EXAMPLES_TABLE: table('ranker_examples'),
    CONSUMER_GROUP_PREFIX: `${scope}-${run}`,
    QUEUE_PREFIX: `${scope}-${run}`,
  };
}
