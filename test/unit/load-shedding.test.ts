// Load shedding on the reader's HTTP API (HTTP_MAX_IN_FLIGHT): past the limit, API requests are answered 503 with
// Retry-After before any work; probes and /metrics are never shed; slots are freed when responses end. No services: a
// stub feed service whose feeds wait until the test releases them (a slow Redis, in effect).
import { describe, expect, it } from 'vitest';
import { Readiness } from '../../platform/health.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import type { FeatureService } from '../../serving/feature-service.ts';
import type { FeedService } from '../../serving/feed-service.ts';
import { buildHttpServer } from '../../serving/http.ts';
import { registrySum } from '../support/prometheus.ts';
import { waitUntil } from '../support/wait.ts';

function stubbed(maxInFlight: number | undefined) {
  const pending: (() => void)[] = [];
  let started = 0;
  const feeds = {
    feed: async () => {
      started++;
      await new Promise<void>((resolve) => pending.push(resolve));
      return { status: 'ok', items: [] };
    },
  } as unknown as FeedService;
  const features = {
    tenantKnown: async () => true,
    user: async () => ({}),
    item: async () => ({}),
  } as unknown as FeatureService;
  const metrics = createMetrics(false);
  const app = buildHttpServer({
    feeds,
    features,
    limits: { defaultK: 10, maxK: 200 },
    metrics,
    logger: createLogger('silent', 'test'),
    readiness: new Readiness([]),
    resolveApiKey: async () => null,
    authRequired: false,
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
  });
  const release = () => pending.splice(0).forEach((r) => r());
  return { app, metrics, release, started: () => started, waiting: () => pending.length };
}

async function until(cond: () => boolean): Promise<void> {
  await waitUntil(cond, { timeoutMs: 1000, intervalMs: 5 });
  expect(cond()).toBe(true);
}

describe('HTTP load shedding (HTTP_MAX_IN_FLIGHT)', () => {
  it('answers 503 with Retry-After past the limit, without calling the feed service, and counts it', async () => {
    const s = stubbed(3);
    const held = Array.from({ length: 3 }, (_, i) =>
      s.app.inject({ method: 'GET', url: `/v1/feeds/u${i}?tenant=acme` }),
    );
    await until(() => s.waiting() === 3);
    expect(await registrySum(s.metrics, 'rankstream_http_in_flight')).toBe(3);

    const shed = await Promise.all(
      Array.from({ length: 5 }, () => s.app.inject({ method: 'GET', url: '/v1/feeds/u9?tenant=acme' })),
    );
    for (const r of shed) {
      expect(r.statusCode).toBe(503);
      expect(r.headers['retry-after']).toBe('1');
      expect(r.json()).toMatchObject({ field: 'request' });
    }
    const post = await s.app.inject({ method: 'POST', url: '/v1/feeds', payload: { tenant: 'acme', user: 'u' } });
    expect(post.statusCode).toBe(503);
    expect(s.started()).toBe(3); // shed before any work

    // probes and metrics are not API requests: never shed
    for (const url of ['/livez', '/healthz', '/readyz', '/metrics'])
      expect((await s.app.inject({ method: 'GET', url })).statusCode, url).toBe(200);
    const metricsText = (await s.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metricsText).toMatch(/rankstream_http_shed_total\{route="\/v1\/feeds\/:user"\} 5/);
    expect(metricsText).toMatch(/rankstream_http_shed_total\{route="\/v1\/feeds"\} 1/);
    expect(metricsText).toMatch(/rankstream_http_requests_total\{route="\/v1\/feeds\/:user",status="503"\} 5/);

    s.release();
    for (const r of await Promise.all(held)) expect(r.statusCode).toBe(200);
    await until(() => s.waiting() === 0);
    expect(await registrySum(s.metrics, 'rankstream_http_in_flight')).toBe(0);
    // slots are free again
    const again = s.app.inject({ method: 'GET', url: '/v1/feeds/u1?tenant=acme' });
    await until(() => s.waiting() === 1);
    s.release();
    expect((await again).statusCode).toBe(200);
    await s.app.close();
  });

  it('frees the slot of a request answered early (a 400) and of every error path', async () => {
    const s = stubbed(1);
    for (let i = 0; i < 20; i++)
      expect((await s.app.inject({ method: 'GET', url: '/v1/feeds/u?tenant=acme&k=x' })).statusCode).toBe(400);
    for (let i = 0; i < 5; i++)
      expect(
        (
          await s.app.inject({
            method: 'POST',
            url: '/v1/feeds',
            headers: { 'content-type': 'application/json' },
            payload: '{',
          })
        ).statusCode,
      ).toBe(400);
    expect(await registrySum(s.metrics, 'rankstream_http_in_flight')).toBe(0);
    const ok = s.app.inject({ method: 'GET', url: '/v1/feeds/u?tenant=acme' });
    await until(() => s.waiting() === 1);
    s.release();
    expect((await ok).statusCode).toBe(200);
    await s.app.close();
  });

  it('sheds nothing when the limit is 0 or absent', async () => {
    for (const limit of [0, undefined]) {
      const s = stubbed(limit);
      const held = Array.from({ length: 50 }, (_, i) =>
        s.app.inject({ method: 'GET', url: `/v1/feeds/u${i}?tenant=acme` }),
      );
      await until(() => s.waiting() === 50);
      expect(await registrySum(s.metrics, 'rankstream_http_in_flight')).toBe(50);
      s.release();
      for (const r of await Promise.all(held)) expect(r.statusCode).toBe(200);
      await s.app.close();
    }
  });
});
