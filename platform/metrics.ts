// Prometheus metrics shared by processors and the reader. One registry per process; callers pass it around.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  consumed: Counter<'processor' | 'topic'>;
  deadLettered: Counter<'processor' | 'topic' | 'stage'>;
  skipped: Counter<'processor' | 'topic'>;
  batchSeconds: Histogram<'processor'>;
  batchRetries: Counter<'processor'>;
  feedsServed: Counter<'channel' | 'status'>;
  feedSeconds: Histogram<'channel'>;
  httpRequests: Counter<'route' | 'status'>;
}

export function createMetrics(withDefaults = true): Metrics {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'rankstream_' });
  const registers = [registry];
  return {
    registry,
    consumed: new Counter({ name: 'rankstream_records_consumed_total', help: 'Records a processor consumed and committed.', labelNames: ['processor', 'topic'], registers }),
    deadLettered: new Counter({ name: 'rankstream_records_dead_lettered_total', help: 'Records sent to a dead-letter topic.', labelNames: ['processor', 'topic', 'stage'], registers }),
    skipped: new Counter({ name: 'rankstream_records_skipped_total', help: 'Undecodable records skipped (dead-lettered by another processor).', labelNames: ['processor', 'topic'], registers }),
    batchSeconds: new Histogram({ name: 'rankstream_batch_seconds', help: 'Time from batch fetch to commit.', labelNames: ['processor'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers }),
    batchRetries: new Counter({ name: 'rankstream_batch_retries_total', help: 'Retried side-effect attempts.', labelNames: ['processor'], registers }),
    feedsServed: new Counter({ name: 'rankstream_feeds_total', help: 'Feed responses by channel (http, kafka) and status.', labelNames: ['channel', 'status'], registers }),
    feedSeconds: new Histogram({ name: 'rankstream_feed_seconds', help: 'Feed computation latency.', labelNames: ['channel'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25], registers }),
    httpRequests: new Counter({ name: 'rankstream_http_requests_total', help: 'HTTP requests by route and status.', labelNames: ['route', 'status'], registers }),
  };
}
