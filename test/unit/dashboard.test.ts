// The Grafana dashboard queries only metrics we export, under their exact names, and covers what operators watch.
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { Worker } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { registerServingMetrics } from '../../serving/serving-metrics.ts';
import { registerQueueMetrics, trackWorkerJobs } from '../../apps/worker-ops.ts';

interface Target {
  expr: string;
  refId: string;
  datasource: { type: string; uid: string };
}
interface Panel {
  type: string;
  title: string;
  id: number;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
}
interface Dashboard {
  schemaVersion: number;
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown }[] };
}

const dashboard = JSON.parse(
  readFileSync(new URL('../../infra/grafana/rankstream-dashboard.json', import.meta.url), 'utf8'),
) as Dashboard;
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

async function exported(): Promise<Map<string, string>> {
  const metrics = createMetrics(true);
  registerServingMetrics(metrics.registry, {
    indexes: { swaps: 0, rejections: 0, loaded: () => [] },
    models: async () => ({ versions: [], rankers: [] }),
    logger: createLogger('silent', 'test'),
  });
  // the BullMQ workers' own metrics (apps/worker-ops.ts)
  registerQueueMetrics(
    metrics.registry,
    [{ name: 'als-training', getJobCounts: async () => ({ waiting: 1 }) }],
    createLogger('silent', 'test'),
  );
  trackWorkerJobs(metrics.registry, new EventEmitter() as unknown as Pick<Worker, 'name' | 'on'>);
  return new Map((await metrics.registry.getMetricsAsJSON()).map((m) => [m.name, String(m.type)]));
}

describe('infra/grafana/rankstream-dashboard.json', () => {
  it('is a Grafana dashboard on a Prometheus datasource variable', () => {
    expect(dashboard.schemaVersion).toBe(39);
    expect(dashboard.uid).toBe('rankstream-ops');
    const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
    expect(ds).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(panels.length).toBeGreaterThanOrEqual(15);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource.uid, p.title).toBe('${datasource}');
    }
    expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
  });

  it('lays panels out without overlaps on the 24-column grid', () => {
    const cells = new Set<string>();
    for (const p of dashboard.panels) {
      const g = p.gridPos;
      expect(g.x + g.w, p.title).toBeLessThanOrEqual(24);
      for (let x = g.x; x < g.x + g.w; x++) {
        for (let y = g.y; y < g.y + g.h; y++) {
          const cell = `${x},${y}`;
          expect(cells.has(cell), `${p.title} overlaps at ${cell}`).toBe(false);
          cells.add(cell);
        }
      }
    }
  });

  it('queries only metrics we export, histograms through their _bucket series', async () => {
    const names = await exported();
    const used = new Set(exprs.flatMap((e) => e.match(/\brankstream_[a-z0-9_]+/g) ?? []));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) {
      const bucket = /^(.*)_(bucket|sum|count)$/.exec(name);
      if (bucket && names.get(bucket[1]!) === 'histogram') continue;
      expect(names.has(name), `${name} is not exported`).toBe(true);
      expect(names.get(name), `${name} is a histogram: query ${name}_bucket`).not.toBe('histogram');
    }
  });

  it('covers throughput, lag, dead letters, feed p50/p99, HTTP status, refusals, index and model versions, job queues, memory', () => {
    const all = exprs.join('\n');
    for (const needle of [
      'rate(rankstream_records_consumed_total',
      'rankstream_consumer_lag',
      'rate(rankstream_records_dead_lettered_total',
      'histogram_quantile(0.5, sum by (le, channel) (rate(rankstream_feed_seconds_bucket',
      'histogram_quantile(0.99, sum by (le, channel) (rate(rankstream_feed_seconds_bucket',
      'sum by (status) (rate(rankstream_http_requests_total',
      'rankstream_index_info',
      'rankstream_model_version_info',
      'rankstream_process_resident_memory_bytes',
      'rate(rankstream_rate_limited_total',
      'rate(rankstream_http_shed_total',
      'rankstream_queue_jobs',
      'rate(rankstream_jobs_total',
    ]) {
      expect(all, needle).toContain(needle);
    }
  });
});
