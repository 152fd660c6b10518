// Operations on real Kafka and Redis: readiness follows group membership, /metrics shows consumer lag that rises while
// a processor is held and falls to 0 once it consumed, a graceful stop commits the batch in flight, and a reader's
// /readyz turns 503 naming Redis while Redis is unreachable (through a proxy this test closes; the shared Redis keeps
// running) and ready again when it is back.
import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket, connect } from 'node:net';
import type { Admin, Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provision } from '../../apps/provision.ts';
import { consumersCheck, Readiness, type ReadinessReport } from '../../platform/health.ts';
import { createMetrics, type Metrics } from '../../platform/metrics.ts';
import { startOpsServer, type OpsServer } from '../../platform/ops-server.ts';
import { startProcessors } from '../../apps/processors.ts';
import { startReader } from '../../apps/reader.ts';
import { runConsumer, type BatchProcessor } from '../../streams/consumer-runner.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { startLagMonitor } from '../../streams/lag-monitor.ts';
import { fetchPartitionLags } from '../../streams/offsets.ts';
import { isolatedConfig, logger } from '../support/harness.ts';
import { fetchMetrics, metricSamples } from '../support/prometheus.ts';
import { eventually, sleep } from '../support/wait.ts';

const config = isolatedConfig('ops', { CONSUMER_LAG_INTERVAL_S: '0.3' });
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  await provision(config, logger);
  kafka = createKafka(config, logger);
  admin = kafka.admin();
  await admin.connect();
});

afterAll(async () => {
  await admin?.disconnect();
});

async function getJson(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Sum of rankstream_consumer_lag over the group's partitions, from the /metrics text; null before any series. */
async function scrapedLag(baseUrl: string, group: string): Promise<number | null> {
  const values = metricSamples(await fetchMetrics(baseUrl), 'rankstream_consumer_lag', { group }).map((s) => s.value);
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0);
}

class Gate {
  private opened = Promise.resolve();
  private release: () => void = () => {};
  close(): void {
    this.opened = new Promise<void>((r) => (this.release = r));
  }
  open(): void {
    this.release();
  }
  wait(): Promise<void> {
    return this.opened;
  }
}

describe('processor readiness and consumer lag', () => {
  let metrics: Metrics;
  let readiness: Readiness;
  let ops: OpsServer;

  beforeAll(async () => {
    metrics = createMetrics(false);
    readiness = new Readiness([consumersCheck(metrics.consumers)]);
    ops = await startOpsServer({ host: '127.0.0.1', port: 0, metrics, readiness, logger });
  });

  afterAll(async () => {
    await ops?.close();
  });

  it('is live at once, ready once the consumer joined; lag rises while it is held, falls to 0 after; stop commits the batch in flight', async () => {
    expect((await getJson(`${ops.url}/livez`)).status).toBe(200);
    expect((await getJson(`${ops.url}/healthz`)).status).toBe(200);
    const before = await getJson(`${ops.url}/readyz`);
    expect(before.status).toBe(503);
    expect(before.body.notReady).toEqual(['consumers']);

    const groupId = `test-${config.suffix}-gated`;
    const gate = new Gate();
    gate.close();
    let entered = () => {};
    let inFlight: Promise<void>;
    let processed = 0;
    const processor: BatchProcessor<string> = {
      name: 'gated',
      async process(records) {
        entered();
        await gate.wait();
        processed += records.length;
      },
    };
    const running = await runConsumer({
      kafka,
      groupId,
      topic: config.topics.events,
      dlqTopic: config.topics.eventsDlq,
      decode: async (m) => ({ value: m.value?.toString('utf8') ?? '', schemaId: null }),
      processor,
      logger,
      metrics,
      maxRetries: 0,
      retryBackoffMs: 10,
    });
    const monitor = await startLagMonitor(kafka, metrics, logger, config.ops.lagIntervalS * 1000);
    try {
      const ready = await eventually(
        'readiness after the group join',
        () => getJson(`${ops.url}/readyz`),
        (r) => r.status === 200,
        30_000,
      );
      expect((ready.body as unknown as ReadinessReport).checks.consumers).toEqual({ ok: true });

      const producer = createProducer(kafka);
      await producer.connect();
      await producer.send({
        topic: config.topics.events,
        messages: Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })),
      });

      // held: nothing is committed, so the whole backlog is lag
      const held = await eventually(
        'lag while the processor is held',
        () => scrapedLag(ops.url, groupId),
        (l) => l !== null && l > 0,
        30_000,
      );
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThanOrEqual(20);
      gate.open();
      await eventually(
        'lag back to 0',
        () => scrapedLag(ops.url, groupId),
        (l) => l === 0,
        30_000,
      );
      expect(processed).toBe(20);

      // graceful stop: the batch in flight finishes and commits before the member leaves
      gate.close();
      inFlight = new Promise<void>((r) => (entered = r));
      await producer.send({
        topic: config.topics.events,
        messages: Array.from({ length: 10 }, (_, i) => ({ partition: 0, key: `s${i}`, value: `s${i}` })),
      });
      await producer.disconnect();
      await inFlight;
      const stopped = running.stop();
      await sleep(300);
      gate.open();
      await stopped;
      expect(processed).toBe(30);
      const lags = await fetchPartitionLags(admin, groupId, config.topics.events);
      expect(lags.map((p) => p.lag)).toEqual(lags.map(() => 0n));

      const after = await getJson(`${ops.url}/readyz`);
      expect(after.status).toBe(503);
      expect(JSON.stringify(after.body)).toContain('stopped');
    } finally {
      await monitor.stop();
      await running.stop().catch(() => {});
    }
  });

  it('the real processors: ready when all their groups joined, lag per group on /metrics, not ready while draining', async () => {
    const m = createMetrics(false);
    const r = new Readiness([consumersCheck(m.consumers)]);
    const server = await startOpsServer({ host: '127.0.0.1', port: 0, metrics: m, readiness: r, logger });
    const prefix = `test-${config.suffix}-p`;
    const processors = await startProcessors(config, logger, m, prefix);
    const monitor = await startLagMonitor(kafka, m, logger, config.ops.lagIntervalS * 1000);
    try {
      await eventually(
        'all processors joined',
        () => getJson(`${server.url}/readyz`),
        (x) => x.status === 200,
        60_000,
      );
      const groups = m.consumers.groups().map((g) => g.groupId);
      expect(groups).toContain(`${prefix}-ledger-writer`);
      expect(groups).toContain(`${prefix}-catalog`);
      await eventually(
        'every group measured',
        async () => Promise.all(groups.map((g) => scrapedLag(server.url, g))),
        (lags) => lags.every((l) => l === 0),
        60_000,
      );
      r.drain();
      const draining = await getJson(`${server.url}/readyz`);
      expect(draining.status).toBe(503);
      expect(draining.body.notReady).toEqual(['shutdown']);
    } finally {
      await processors.stop();
      await monitor.stop();
      await server.close();
    }
  });
});

/** A TCP proxy to Redis that the test can cut (close and drop every connection) and restore on the same port. */
async function redisProxy(target: { host: string; port: number }) {
  const sockets = new Set<Socket>();
  let server: Server | null = null;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as { port: number }).port;
        server = s;
        resolve();
      });
    });
  await listen();
  return {
    get port() {
      return port;
    },
    async cut() {
      const s = server;
      server = null;
      const closed = new Promise<void>((r) => (s ? s.close(() => r()) : r()));
      for (const sock of sockets) sock.destroy();
      await closed;
    },
    restore: listen,
  };
}

describe('reader readiness', () => {
  it('turns 503 naming redis while Redis is unreachable, stays live, and is ready again once it is back', async () => {
    const target = new URL(config.redisUrl);
    const proxy = await redisProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const proxied = new URL(config.redisUrl);
    proxied.port = String(proxy.port);
    const reader = await startReader({ ...config, redisUrl: proxied.toString() }, logger, createMetrics(false), {
      groupId: `test-${config.suffix}-reader-${randomBytes(2).toString('hex')}`,
      port: 0,
    });
    try {
      const ready = await eventually(
        'reader ready',
        () => getJson(`${reader.url}/readyz`),
        (r) => r.status === 200,
        60_000,
      );
      const checks = (ready.body as unknown as ReadinessReport).checks;
      expect(Object.keys(checks).sort()).toEqual(['indexes', 'kafka-producer', 'redis', 'shutdown']);

      const metricsText = await (await fetch(`${reader.url}/metrics`)).text();
      expect(metricsText).toContain('rankstream_http_request_seconds_bucket{le="0.001",route="/readyz"}');
      expect(metricsText).toContain('# TYPE rankstream_index_info gauge');
      expect(metricsText).toContain('# TYPE rankstream_model_version_info gauge');

      await proxy.cut();
      const down = await eventually(
        'reader not ready without Redis',
        () => getJson(`${reader.url}/readyz`),
        (r) => r.status === 503,
        30_000,
      );
      const report = down.body as unknown as ReadinessReport;
      expect(report.notReady).toEqual(['redis']);
      expect(report.checks.redis?.ok).toBe(false);
      expect((await getJson(`${reader.url}/livez`)).status).toBe(200);

      await proxy.restore();
      await eventually(
        'reader ready again',
        () => getJson(`${reader.url}/readyz`),
        (r) => r.status === 200,
        30_000,
      );
    } finally {
      await proxy.restore().catch(() => {});
      await reader.stop();
      await proxy.cut();
    }
  });
});
