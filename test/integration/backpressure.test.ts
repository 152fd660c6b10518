// Backpressure in the reader: with Redis slowed by a latency-injecting proxy, API requests pile up; the in-flight limit
// (HTTP_MAX_IN_FLIGHT) answers the excess 503 with Retry-After at once, keeps the requests being served (and the memory
// they hold) bounded, keeps probes answering, and lets go once Redis is fast again. bench:load measures the same on
// separate processes (resident memory, latencies) and the processors' side (docs/operations.md, "Load and backpressure").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import type { InteractionEvent } from '../../core/events.ts';
import { decayParams } from '../../core/features/popularity.ts';
import { startLatencyProxy, type LatencyProxy } from '../support/latency-proxy.ts';
import { deleteTenantKeys, forgetTenant } from '../../state/tenants.ts';
import { provision } from '../../apps/provision.ts';
import { createMetrics, type Metrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { FeaturesProcessor } from '../../processors/features.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import type { ConsumedRecord } from '../../streams/consumer-runner.ts';
import { isolatedConfig, logger } from '../support/harness.ts';
import { metricSum, parsePrometheus, registrySum } from '../support/prometheus.ts';
import { sleep, waitUntil } from '../support/wait.ts';

const LIMIT = 8;
const direct = loadConfig();
let proxy: LatencyProxy;
let redis: Redis;
let reader: RunningReader;
let metrics: Metrics;
let config: ReturnType<typeof isolatedConfig>;
let tenant: string;

beforeAll(async () => {
  const target = new URL(direct.redisUrl);
  proxy = await startLatencyProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379), delayMs: 0 });
  config = isolatedConfig('backpressure', {
    REDIS_URL: proxy.via(direct.redisUrl),
    HTTP_MAX_IN_FLIGHT: String(LIMIT),
    TOPIC_PARTITIONS: '1',
  });
  tenant = `bp-${config.suffix}`.replace(/_/g, '-');
  await provision(config, logger);
  // a little state, written straight to Redis: popular items for the tenant
  redis = createRedis(direct);
  const f = config.features;
  const features = new FeaturesProcessor(redis, decayParams(f.halfLifeS, f.trendingHalfLifeS), f);
  const records: ConsumedRecord<InteractionEvent>[] = Array.from({ length: 200 }, (_, i) => ({
    value: {
      type: 'click',
      eventId: `bp${i}`,
      tenant,
      userId: `u${i % 20}`,
      itemId: `i${(i * 7) % 50}`,
      timestamp: Date.now() - 60_000 + i,
      context: {},
      recommendationId: null,
    },
    topic: 'bp',
    partition: 0,
    offset: String(i),
    timestamp: '0',
    key: null,
    raw: null,
    schemaId: null,
  }));
  await features.process(records);
  metrics = createMetrics(false);
  reader = await startReader(config, logger, metrics, { groupId: `test-${config.suffix}-reader`, port: 0 });
  await waitUntil(async () => (await reader.readiness.report()).status === 'ready', {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
});

afterAll(async () => {
  await reader?.stop();
  await proxy?.close();
  if (redis) {
    await forgetTenant(redis, tenant);
    await deleteTenantKeys(redis, tenant);
    redis.disconnect();
  }
});

const feed = (user: string) => fetch(`${reader.url}/v1/feeds/${user}?tenant=${tenant}&k=5`);

describe('reader load shedding with a slow Redis', () => {
  it('serves feeds normally while Redis is fast', async () => {
    const res = await feed('u1');
    expect(res.status).toBe(200);
    expect(((await res.json()) as { items: unknown[] }).items.length).toBeGreaterThan(0);
  });

  it('with every Redis chunk delayed, serves at most HTTP_MAX_IN_FLIGHT at once and answers the rest 503 with Retry-After', async () => {
    proxy.setDelay(150);
    let maxInFlight = 0;
    let polling = true;
    const poller = (async () => {
      while (polling) {
        maxInFlight = Math.max(maxInFlight, await registrySum(metrics, 'rankstream_http_in_flight'));
        await sleep(10);
      }
    })();
    // three waves of 40 concurrent requests: far more than the limit at any moment
    const statuses: number[] = [];
    const shedBodies: { status: number; retryAfter: string | null; body: { field?: string } }[] = [];
    let probeStatus = 0;
    for (let wave = 0; wave < 3; wave++) {
      const inWave = Array.from({ length: 40 }, async (_, i) => {
        const res = await feed(`u${i % 20}`);
        statuses.push(res.status);
        const body = (await res.json()) as { field?: string };
        if (res.status === 503)
          shedBodies.push({ status: res.status, retryAfter: res.headers.get('retry-after'), body });
      });
      // liveness is not an API request: it answers while the reader is saturated
      if (wave === 0) probeStatus = (await fetch(`${reader.url}/livez`)).status;
      await Promise.all(inWave);
    }
    polling = false;
    await poller;
    proxy.setDelay(0);

    const ok = statuses.filter((s) => s === 200).length;
    const shed = statuses.filter((s) => s === 503).length;
    expect(statuses).toHaveLength(120);
    expect(ok + shed).toBe(120); // nothing else: no timeouts, no 500s
    expect(ok).toBeGreaterThanOrEqual(LIMIT); // at least the first of each wave's slots are served
    expect(shed).toBeGreaterThanOrEqual(120 - 3 * 2 * LIMIT);
    for (const b of shedBodies) {
      expect(b.retryAfter).toBe('1');
      expect(b.body.field).toBe('request');
    }
    expect(maxInFlight).toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(LIMIT);
    expect(probeStatus).toBe(200);
    const text = await metrics.registry.metrics();
    const counted = metricSum(parsePrometheus(text), 'rankstream_http_shed_total');
    expect(counted).toBe(shed);
  });

  it('lets go once Redis is fast again: nothing left in flight, feeds served', async () => {
    await waitUntil(async () => (await registrySum(metrics, 'rankstream_http_in_flight')) <= 0, {
      timeoutMs: 5_000,
      intervalMs: 50,
    });
    expect(await registrySum(metrics, 'rankstream_http_in_flight')).toBe(0);
    const results = await Promise.all(Array.from({ length: LIMIT }, (_, i) => feed(`u${i}`).then((r) => r.status)));
    expect(results.every((s) => s === 200)).toBe(true);
  });
});
