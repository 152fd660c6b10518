// The pure parts of operations: lag arithmetic, readiness checks and their report, the consumer tracker, the health
// routes (on the reader's API and the processors' server), serving metrics and the latency buckets.
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { ConsumerTracker } from '../../platform/consumer-tracker.ts';
import { consumersCheck, Readiness, runChecks, withTimeout } from '../../platform/health.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics, FEED_SECONDS_BUCKETS } from '../../platform/metrics.ts';
import { registerHealthRoutes } from '../../platform/ops-server.ts';
import { registerServingMetrics, type IndexView } from '../../serving/serving-metrics.ts';
import { partitionLags } from '../../streams/offsets.ts';
import { sleep } from '../support/wait.ts';

const logger = createLogger('silent', 'test');

describe('partitionLags', () => {
  it('is high watermark minus committed offset per partition', () => {
    const lags = partitionLags(
      [
        { partition: 1, high: '120', low: '0' },
        { partition: 0, high: '100', low: '0' },
      ],
      [
        { partition: 0, offset: '100' },
        { partition: 1, offset: '20' },
      ],
    );
    expect(lags).toEqual([
      { partition: 0, high: 100n, committed: 100n, lag: 0n },
      { partition: 1, high: 120n, committed: 20n, lag: 100n },
    ]);
  });

  it('counts from the low mark where the group committed nothing, or where retention passed its offset', () => {
    const lags = partitionLags(
      [
        { partition: 0, high: '50', low: '10' },
        { partition: 1, high: '50', low: '40' },
        { partition: 2, high: '7', low: '0' },
      ],
      [
        { partition: 0, offset: '-1' },
        { partition: 1, offset: '5' },
      ],
    );
    expect(lags.map((p) => [p.partition, p.committed, p.lag])).toEqual([
      [0, null, 40n],
      [1, 5n, 10n],
      [2, null, 7n],
    ]);
  });

  it('is never negative', () => {
    expect(partitionLags([{ partition: 0, high: '5', low: '0' }], [{ partition: 0, offset: '9' }])[0]?.lag).toBe(0n);
  });
});

describe('readiness', () => {
  it('names every failing check with its reason, and bounds slow ones', async () => {
    const report = await runChecks(
      [
        { name: 'fine', check: () => {} },
        { name: 'broken', check: () => Promise.reject(new Error('connection refused')) },
        {
          name: 'throws',
          check: () => {
            throw new Error('not yet');
          },
        },
        { name: 'slow', check: () => new Promise<void>(() => {}) },
      ],
      50,
    );
    expect(report.status).toBe('not_ready');
    expect(report.notReady).toEqual(['broken', 'throws', 'slow']);
    expect(report.checks.fine).toEqual({ ok: true });
    expect(report.checks.broken).toEqual({ ok: false, error: 'connection refused' });
    expect(report.checks.slow?.error).toBe('slow did not answer within 50 ms');
  });

  it('is ready when every check passes, and not ready from the moment it drains', async () => {
    const r = new Readiness([{ name: 'a', check: () => {} }]);
    expect(await r.report()).toEqual({
      status: 'ready',
      notReady: [],
      checks: { shutdown: { ok: true }, a: { ok: true } },
    });
    r.drain();
    const draining = await r.report();
    expect(draining.status).toBe('not_ready');
    expect(draining.notReady).toEqual(['shutdown']);
    expect(draining.checks.shutdown).toEqual({ ok: false, error: 'shutting down' });
  });

  it('withTimeout passes values and errors through', async () => {
    await expect(withTimeout(Promise.resolve(7), 50, 'x')).resolves.toBe(7);
    await expect(withTimeout(Promise.reject(new Error('boom')), 50, 'x')).rejects.toThrow('boom');
  });
});

describe('ConsumerTracker', () => {
  it('follows join, crash, rejoin and stop; the consumers check and the joined gauge agree', async () => {
    const metrics = createMetrics(false);
    const t = metrics.consumers;
    const check = consumersCheck(t);
    expect(() => check.check()).toThrow('no consumer started yet');
    const a = t.track('g-a', 'events');
    const b = t.track('g-b', 'events');
    expect(() => check.check()).toThrow('g-a on events: starting; g-b on events: starting');
    a.joined([3, 1]);
    b.joined([]); // an idle member (more members than partitions) has joined too
    expect(() => check.check()).not.toThrow();
    expect(t.list()[0]?.partitions).toEqual([1, 3]);
    b.crashed('coordinator not available');
    expect(() => check.check()).toThrow('g-b on events: crashed (coordinator not available)');
    const joined = async () => (await metrics.consumerJoined.get()).values.map((v) => [v.labels.group, v.value]);
    expect(await joined()).toEqual([
      ['g-a', 1],
      ['g-b', 0],
    ]);
    b.joined([0]);
    expect(() => check.check()).not.toThrow();
    a.stopped();
    expect(t.groups()).toEqual([{ groupId: 'g-b', topic: 'events' }]);
    expect(() => check.check()).toThrow('g-a on events: stopped');
  });

  it('lists each (group, topic) once for the lag monitor', () => {
    const t = new ConsumerTracker();
    t.track('g', 'events');
    t.track('g', 'events');
    t.track('g', 'items');
    expect(t.groups()).toEqual([
      { groupId: 'g', topic: 'events' },
      { groupId: 'g', topic: 'items' },
    ]);
  });
});

describe('health routes', () => {
  it('/livez and /healthz answer while /readyz is 503 with what is not ready; /metrics is Prometheus text', async () => {
    const metrics = createMetrics(false);
    const app = Fastify();
    let redisUp = false;
    registerHealthRoutes(app, {
      metrics,
      readiness: new Readiness([
        {
          name: 'redis',
          check: () => {
            if (!redisUp) throw new Error('connection reconnecting');
          },
        },
      ]),
    });
    for (const path of ['/livez', '/healthz']) {
      const res = await app.inject({ method: 'GET', url: path });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    }
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({
      status: 'not_ready',
      notReady: ['redis'],
      checks: { shutdown: { ok: true }, redis: { ok: false, error: 'connection reconnecting' } },
    });
    redisUp = true;
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    metrics.consumerLag.set({ group: 'g', topic: 't', partition: '0' }, 42);
    const scrape = await app.inject({ method: 'GET', url: '/metrics' });
    expect(scrape.headers['content-type']).toContain('text/plain');
    expect(scrape.body).toContain('rankstream_consumer_lag{group="g",topic="t",partition="0"} 42');
    await app.close();
  });
});

describe('serving metrics', () => {
  it('report the index each partition serves, swaps, and published model versions; a failed read keeps the last versions', async () => {
    const metrics = createMetrics(false);
    const indexes: IndexView = {
      swaps: 2,
      rejections: 1,
      loaded: () => [{ partition: 'shop', version: 'idx-2', count: 1500, builtAt: '2026-01-02T03:04:05.000Z' }],
    };
    let fail = false;
    registerServingMetrics(metrics.registry, {
      indexes,
      logger,
      models: async () => {
        if (fail) throw new Error('redis down');
        return {
          versions: [
            { tenant: 'shop', model: 'als', version: 'als-7' },
            { tenant: 'shop', model: 'ftrl', version: 'ftrl-3' },
          ],
          rankers: [{ tenant: 'shop', ranker: 'lambdamart' }],
        };
      },
    });
    registerServingMetrics(metrics.registry, { indexes, logger, models: async () => ({ versions: [], rankers: [] }) }); // a second reader on the registry: no duplicate
    const text = await metrics.registry.metrics();
    expect(text).toContain('rankstream_index_info{partition="shop",version="idx-2"} 1');
    expect(text).toContain('rankstream_index_items{partition="shop"} 1500');
    expect(text).toContain(
      `rankstream_index_built_timestamp_seconds{partition="shop"} ${Date.parse('2026-01-02T03:04:05.000Z') / 1000}`,
    );
    expect(text).toContain('rankstream_index_swaps_total{outcome="swapped"} 2');
    expect(text).toContain('rankstream_index_swaps_total{outcome="refused"} 1');
    expect(text).toContain('rankstream_model_version_info{tenant="shop",model="als",version="als-7"} 1');
    expect(text).toContain('rankstream_model_version_info{tenant="shop",model="ftrl",version="ftrl-3"} 1');
    expect(text).toContain('rankstream_ranker_serving_info{tenant="shop",ranker="lambdamart"} 1');
    fail = true;
    await sleep(1100); // the versions are read at most once a second
    indexes.swaps = 3;
    const again = await metrics.registry.metrics();
    expect(again).toContain('rankstream_index_swaps_total{outcome="swapped"} 3');
    expect(again).toContain('rankstream_model_version_info{tenant="shop",model="ftrl",version="ftrl-3"} 1');
    expect(again).toContain('rankstream_ranker_serving_info{tenant="shop",ranker="lambdamart"} 1');
  });
});

describe('metrics configuration', () => {
  it('feed and HTTP latency buckets reach several seconds', async () => {
    expect(Math.max(...FEED_SECONDS_BUCKETS)).toBeGreaterThanOrEqual(5);
    const metrics = createMetrics(false);
    metrics.feedSeconds.observe({ channel: 'http' }, 3);
    expect(await metrics.registry.metrics()).toContain('rankstream_feed_seconds_bucket{le="5",channel="http"} 1');
  });

  it('operations settings: processors and workers listen on loopback by default, on distinct ports; lag interval and shutdown bound from the environment', () => {
    expect(loadConfig({}).ops).toEqual({
      processorHttp: { host: '127.0.0.1', port: 18082 },
      alsWorkerHttpPort: 18083,
      retconWorkerHttpPort: 18084,
      lagIntervalS: 15,
      shutdownTimeoutS: 30,
    });
    expect(
      loadConfig({
        PROCESSOR_HTTP_PORT: '0',
        ALS_WORKER_HTTP_PORT: '0',
        RETCON_WORKER_HTTP_PORT: '9000',
        CONSUMER_LAG_INTERVAL_S: '0.5',
        SHUTDOWN_TIMEOUT_S: '40',
      }).ops,
    ).toEqual({
      processorHttp: { host: '127.0.0.1', port: 0 },
      alsWorkerHttpPort: 0,
      retconWorkerHttpPort: 9000,
      lagIntervalS: 0.5,
      shutdownTimeoutS: 40,
    });
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_S: '0' })).toThrow('SHUTDOWN_TIMEOUT_S');
    expect(() => loadConfig({ RETCON_WORKER_HTTP_PORT: '70000' })).toThrow('RETCON_WORKER_HTTP_PORT');
  });
});
