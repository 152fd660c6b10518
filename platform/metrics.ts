// Prometheus metrics shared by processors and the reader. One registry per process; callers pass it around.
// Every name here is what infra/grafana/rankstream-dashboard.json queries (test/unit/dashboard.test.ts checks it).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ConsumerTracker } from './consumer-tracker.ts';

export interface Metrics {
  registry: Registry;
  consumed: Counter<'processor' | 'topic'>;
  deadLettered: Counter<'processor' | 'topic' | 'stage'>;
  skipped: Counter<'processor' | 'topic'>;
  batchSeconds: Histogram<'processor'>;
  batchRetries: Counter<'processor'>;
  /** Batches between fetch and commit (0 or 1 per consumer): a batch stuck in its side effects shows here. */
  batchesInFlight: Gauge<'processor'>;
  /** Records on a partition not yet committed by the group (high watermark − committed offset), refreshed periodically. */
  consumerLag: Gauge<'group' | 'topic' | 'partition'>;
  /** 1 while the process's consumer of the group has joined it, else 0. */
  consumerJoined: Gauge<'group' | 'topic'>;
  feedsServed: Counter<'channel' | 'status'>;
  feedSeconds: Histogram<'channel'>;
  httpRequests: Counter<'route' | 'status'>;
  httpSeconds: Histogram<'route'>;
  /** HTTP requests refused with 429 by the per-API-key rate limit. */
  rateLimited: Counter<'tenant'>;
  /** API requests (/v1/*) being served now (the load-shedding limit HTTP_MAX_IN_FLIGHT bounds it). */
  httpInFlight: Gauge;
  /** API requests refused with 503 because HTTP_MAX_IN_FLIGHT were already in flight. */
  httpShed: Counter<'route'>;
  /** The consumers this process runs (the consumer runner registers each): readiness and the lag monitor read it. */
  consumers: ConsumerTracker;
}

/** Feed latency: ~1 ms (cached, small catalogue) up to seconds (exact scoring before an index, 1M-item funnels under load). */
export const FEED_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'rankstream_' });
  const registers = [registry];
  const consumerJoined = new Gauge({
    name: 'rankstream_consumer_group_joined',
    help: "1 while this process's consumer has joined the group, else 0.",
    labelNames: ['group', 'topic'],
    registers,
  });
  return {
    registry,
    consumed: new Counter({
      name: 'rankstream_records_consumed_total',
      help: 'Records a processor consumed and committed.',
      labelNames: ['processor', 'topic'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'rankstream_records_dead_lettered_total',
      help: 'Records sent to a dead-letter topic.',
      labelNames: ['processor', 'topic', 'stage'],
      registers,
    }),
    skipped: new Counter({
      name: 'rankstream_records_skipped_total',
      help: 'Undecodable records skipped (dead-lettered by another processor).',
      labelNames: ['processor', 'topic'],
      registers,
    }),
    batchSeconds: new Histogram({
      name: 'rankstream_batch_seconds',
      help: 'Time from batch fetch to commit.',
      labelNames: ['processor'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    batchRetries: new Counter({
      name: 'rankstream_batch_retries_total',
      help: 'Retried side-effect attempts.',
      labelNames: ['processor'],
      registers,
    }),
    batchesInFlight: new Gauge({
      name: 'rankstream_batches_in_flight',
      help: 'Batches fetched and not yet committed or abandoned, per processor.',
      labelNames: ['processor'],
      registers,
    }),
    consumerLag: new Gauge({
      name: 'rankstream_consumer_lag',
      help: 'Records not yet committed by the consumer group: high watermark minus committed offset, per partition.',
      labelNames: ['group', 'topic', 'partition'],
      registers,
    }),
    consumerJoined,
    feedsServed: new Counter({
      name: 'rankstream_feeds_total',
      help: 'Feed responses by channel (http, kafka) and status.',
      labelNames: ['channel', 'status'],
      registers,
    }),
    feedSeconds: new Histogram({
      name: 'rankstream_feed_seconds',
      help: 'Feed computation latency.',
      labelNames: ['channel'],
      buckets: FEED_SECONDS_BUCKETS,
      registers,
    }),
    httpRequests: new Counter({
      name: 'rankstream_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['route', 'status'],
      registers,
    }),
    httpSeconds: new Histogram({
      name: 'rankstream_http_request_seconds',
      help: 'HTTP request latency by route (receipt to response).',
      labelNames: ['route'],
      buckets: FEED_SECONDS_BUCKETS,
      registers,
    }),
    rateLimited: new Counter({
      name: 'rankstream_rate_limited_total',
      help: "HTTP requests refused (429) by the per-API-key rate limit, by the key's tenant.",
      labelNames: ['tenant'],
      registers,
    }),
    httpInFlight: new Gauge({
      name: 'rankstream_http_in_flight',
      help: 'API requests (/v1/*) being served now.',
      registers,
    }),
    httpShed: new Counter({
      name: 'rankstream_http_shed_total',
      help: 'API requests refused with 503 because HTTP_MAX_IN_FLIGHT requests were already in flight (load shedding).',
      labelNames: ['route'],
      registers,
    }),
    consumers: new ConsumerTracker(consumerJoined),
  };
}
