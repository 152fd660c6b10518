// Settings of where rankstream runs: the services it connects to, its topics, its HTTP listeners and their guards,
// operations, and the local stack and demo.
import { z } from 'zod';
import { flag, list, nonNegativeInt, port, positiveInt, setting, sqlName, type Section } from '../setting.ts';

export const services = {
  title: 'Services',
  about: 'Where Kafka, the schema registry, Redis and ClickHouse are, and the ClickHouse tables rankstream writes.',
  settings: {
    KAFKA_BROKERS: setting({
      doc: 'Kafka bootstrap brokers (`host:port`).',
      schema: list,
      default: ['127.0.0.1:19092'],
    }),
    KAFKA_CLIENT_ID: setting({
      doc: 'Client id the processes give Kafka (it names them in broker logs, metrics and quotas).',
      schema: z.string(),
      default: 'rankstream',
    }),
    SCHEMA_REGISTRY_URL: setting({
      doc: 'Confluent-compatible schema registry that holds the Avro schemas of the records.',
      schema: z.string().url(),
      default: 'http://127.0.0.1:18081/apis/ccompat/v7',
    }),
    REDIS_URL: setting({
      doc:
        'Redis with the online state (features, models, API keys) and the job queues. ' +
        'It carries the Redis password, so a deployment sets it from a Secret.',
      schema: z.string(),
      default: 'redis://127.0.0.1:16379',
    }),
    CLICKHOUSE_URL: setting({
      doc: 'ClickHouse HTTP endpoint.',
      schema: z.string().url(),
      default: 'http://127.0.0.1:18123',
    }),
    CLICKHOUSE_DATABASE: setting({
      doc: 'ClickHouse database of the tables below.',
      schema: sqlName,
      default: 'rankstream',
    }),
    CLICKHOUSE_USER: setting({ doc: 'ClickHouse user.', schema: z.string(), default: 'default' }),
    CLICKHOUSE_PASSWORD: setting({
      doc: 'ClickHouse password (a deployment sets it from a Secret).',
      schema: z.string(),
      default: '',
    }),
    LEDGER_TABLE: setting({
      doc: 'ClickHouse table of every event (the ledger the batch jobs train and evaluate from).',
      schema: sqlName,
      default: 'ledger',
    }),
    CATALOG_TABLE: setting({ doc: 'ClickHouse table of the item catalogue.', schema: sqlName, default: 'items' }),
  },
} satisfies Section;

export const topics = {
  title: 'Topics',
  about: 'The Kafka topics rankstream reads and writes; each input topic has a dead-letter topic for bad records.',
  settings: {
    TOPIC_EVENTS: setting({
      doc: 'Interaction events in (impressions, clicks, engagements, conversions).',
      schema: z.string(),
      default: 'rankstream.events',
    }),
    TOPIC_EVENTS_DLQ: setting({
      doc: 'Dead letters of `TOPIC_EVENTS`: records that could not be decoded or were refused.',
      schema: z.string(),
      default: 'rankstream.events.dlq',
    }),
    TOPIC_FEED_REQUESTS: setting({
      doc: 'Feed requests over Kafka (answered on `TOPIC_FEEDS`).',
      schema: z.string(),
      default: 'rankstream.feed-requests',
    }),
    TOPIC_FEED_REQUESTS_DLQ: setting({
      doc: 'Dead letters of `TOPIC_FEED_REQUESTS`.',
      schema: z.string(),
      default: 'rankstream.feed-requests.dlq',
    }),
    TOPIC_FEEDS: setting({
      doc: 'Ranked feeds out, answering `TOPIC_FEED_REQUESTS`.',
      schema: z.string(),
      default: 'rankstream.feeds',
    }),
    TOPIC_ITEMS: setting({ doc: 'Item catalogue records in.', schema: z.string(), default: 'rankstream.items' }),
    TOPIC_ITEMS_DLQ: setting({
      doc: 'Dead letters of `TOPIC_ITEMS`.',
      schema: z.string(),
      default: 'rankstream.items.dlq',
    }),
    TOPIC_PARTITIONS: setting({
      doc:
        'Partitions of the topics rankstream creates: the upper bound on useful processor replicas ' +
        '(a replica beyond it holds no partition).',
      schema: positiveInt,
      default: 4,
    }),
  },
} satisfies Section;

export const httpAndSecurity = {
  title: 'HTTP and security',
  about: 'The reader\'s HTTP API and the bounds on what comes in (docs/operations.md, "Bad input and security").',
  settings: {
    HTTP_HOST: setting({
      doc: "Address the reader's HTTP API listens on (`0.0.0.0` in a pod).",
      schema: z.string(),
      default: '127.0.0.1',
    }),
    HTTP_PORT: setting({ doc: "Port of the reader's HTTP API; 0 = any free port.", schema: port, default: 18080 }),
    HTTP_MAX_IN_FLIGHT: setting({
      doc:
        'API requests (`/v1/*`) one reader serves at once; more are answered 503 with `Retry-After` at once, so a ' +
        'slow dependency cannot pile requests up (load shedding, docs/operations.md "Load and backpressure"); ' +
        '0 = no limit.',
      schema: nonNegativeInt,
      default: 256,
    }),
    HTTP_BODY_LIMIT_BYTES: setting({
      doc: 'Largest HTTP request body; larger ones are answered 413.',
      schema: positiveInt,
      default: 64 * 1024,
    }),
    MAX_RECORD_BYTES: setting({
      doc: 'Largest Kafka record decoded; larger ones are dead-lettered undecoded.',
      schema: positiveInt,
      default: 512 * 1024,
    }),
    AUTH_REQUIRED: setting({
      doc:
        'Require an API key on every HTTP request (the tenant then always comes from the key); ' +
        'set `true` in production.',
      schema: flag,
      default: false,
    }),
    REQUIRE_REGISTERED_TENANTS: setting({
      doc:
        'Dead-letter events and items of a tenant without an API key (other than `COMMUNITY_PARTITION`) instead of ' +
        'creating the tenant; set `true` in production.',
      schema: flag,
      default: false,
    }),
    COMMUNITY_PARTITION: setting({
      doc: 'The read-only tenant whose data serves registered tenants that have no data of their own yet.',
      schema: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/),
      default: 'community',
    }),
    RATE_LIMIT_PER_S: setting({
      doc:
        'Requests per second per API key: a token bucket in Redis shared by every reader (429 with `Retry-After` ' +
        'past it); 0 = no limit.',
      schema: z.coerce.number().min(0),
      default: 100,
    }),
    RATE_LIMIT_BURST: setting({
      doc: 'Burst of the per-API-key token bucket: requests allowed at once on top of the steady rate.',
      schema: positiveInt,
      default: 200,
    }),
  },
} satisfies Section;

export const operations = {
  title: 'Operations',
  about: 'Logs, the health and metrics servers of the processes without an API, lag measurement, graceful shutdown.',
  settings: {
    RANKSTREAM_LOG_LEVEL: setting({
      doc: 'pino log level (JSON logs on stdout).',
      schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
      default: 'info',
    }),
    PROCESSOR_HTTP_HOST: setting({
      doc:
        "Address of the processors' health and metrics server (`/livez`, `/readyz`, `/metrics`), " +
        "and of the ALS and retcon workers' (`0.0.0.0` in a pod).",
      schema: z.string(),
      default: '127.0.0.1',
    }),
    PROCESSOR_HTTP_PORT: setting({
      doc: "Port of the processors' health and metrics server; 0 = any free port.",
      schema: port,
      default: 18082,
    }),
    ALS_WORKER_HTTP_PORT: setting({
      doc:
        "Port of the ALS training worker's health and metrics server (queue depth, jobs by outcome); " +
        '0 = any free port.',
      schema: port,
      default: 18083,
    }),
    RETCON_WORKER_HTTP_PORT: setting({
      doc: "Port of the retcon worker's health and metrics server; 0 = any free port.",
      schema: port,
      default: 18084,
    }),
    CONSUMER_LAG_INTERVAL_S: setting({
      doc: "How often (seconds) processors and readers measure their consumer groups' lag from the broker.",
      schema: z.coerce.number().positive(),
      default: 15,
    }),
    SHUTDOWN_TIMEOUT_S: setting({
      doc:
        'How long (seconds) a graceful shutdown on SIGTERM may take (finish and commit the batch in flight, close ' +
        "clients) before the process exits 1; keep a pod's termination grace period above it.",
      schema: positiveInt,
      default: 30,
    }),
  },
} satisfies Section;

export const localAndDemo = {
  title: 'Local/demo',
  about: 'The local stack (`npm run infra`) and the demo (`npm run demo`).',
  settings: {
    RANKSTREAM_DATA_DIR: setting({
      doc:
        "The local services' binaries, data, logs and PIDs; also where model artifacts go unless " +
        '`ARTIFACTS_DIR` is set.',
      schema: z.string(),
      default: '.rankstream',
    }),
    DEMO_LOG_PATH: setting({
      doc: 'Taobao UserBehavior.csv the demo replays (`npm run demo -- --log`).',
      schema: z.string(),
      default: '../shared/datasets/taobao-userbehavior-stream/UserBehavior.csv',
    }),
    DEMO_TENANT: setting({
      doc: "Tenant the demo's events belong to (`npm run demo -- --tenant`).",
      schema: z.string(),
      default: 'taobao',
    }),
  },
} satisfies Section;
