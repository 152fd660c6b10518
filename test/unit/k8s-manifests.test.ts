// infra/k8s stays consistent with the code: every env var it sets is one config/config.ts reads, probes hit routes the
// servers have on the ports they listen on, processors stay within the partition count, and grace periods cover a
// graceful shutdown.
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../config/config.ts';
import { Readiness } from '../../platform/health.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { registerHealthRoutes } from '../../platform/ops-server.ts';
import type { FeatureService } from '../../serving/feature-service.ts';
import type { FeedService } from '../../serving/feed-service.ts';
import { buildHttpServer } from '../../serving/http.ts';
import { PROCESSOR_NAMES } from '../../apps/processors.ts';
import Fastify from 'fastify';

interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: { name: string; key: string } };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: { name: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  data?: Record<string, string>;
  spec?: {
    replicas?: number;
    strategy?: { type: string };
    selector?: { matchLabels: Record<string, string> };
    scaleTargetRef?: { kind: string; name: string };
    metrics?: { type: string; resource?: { name: string } }[];
    template?: {
      metadata: { labels: Record<string, string> };
      spec: { terminationGracePeriodSeconds?: number; containers: Container[] };
    };
  };
}

const dir = new URL('../../infra/k8s/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
const manifests: Manifest[] = files.flatMap((f) =>
  parseAllDocuments(readFileSync(new URL(f, dir), 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as Manifest;
  }),
);
const byKind = (kind: string) => manifests.filter((m) => m.kind === kind);
const configMap = byKind('ConfigMap').find((m) => m.metadata.name === 'rankstream-config');
const deployments = byKind('Deployment');
const containers = deployments.flatMap((d) => d.spec!.template!.spec.containers.map((c) => ({ deployment: d, c })));
const command = (c: Container) => [...(c.command ?? []), ...(c.args ?? [])].join(' ');

function readerApp(): FastifyInstance {
  return buildHttpServer({
    feeds: {} as FeedService,
    features: {} as FeatureService,
    limits: { defaultK: 10, maxK: 200 },
    metrics: createMetrics(false),
    logger: createLogger('silent', 'test'),
    readiness: new Readiness([]),
    resolveApiKey: async () => null,
    authRequired: true,
  });
}

function processorsApp(): FastifyInstance {
  const app = Fastify();
  registerHealthRoutes(app, { metrics: createMetrics(false), readiness: new Readiness([]) });
  return app;
}

describe('infra/k8s', () => {
  it('parses, and has the processors, reader, Service, HPA, PDBs and ConfigMap', () => {
    expect(files).toContain('kustomization.yaml');
    const kustomization = manifests.find((m) => m.kind === 'Kustomization') as unknown as { resources: string[] };
    for (const r of kustomization.resources) expect(files, `${r} listed in kustomization.yaml`).toContain(r);
    expect(deployments.map((d) => d.metadata.name)).toEqual(
      expect.arrayContaining(['rankstream-processors', 'rankstream-reader']),
    );
    expect(configMap).toBeDefined();
    expect(byKind('Service').map((s) => s.metadata.name)).toContain('rankstream-reader');
    const hpa = byKind('HorizontalPodAutoscaler')[0];
    expect(hpa?.spec?.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: 'rankstream-reader' });
    expect(hpa?.spec?.metrics?.[0]?.resource?.name).toBe('cpu');
    expect(
      deployments.find((d) => d.metadata.name === 'rankstream-reader')?.spec?.replicas,
      'the HPA owns the reader count',
    ).toBeUndefined();
    expect(
      byKind('PodDisruptionBudget')
        .map((p) => p.metadata.name)
        .sort(),
    ).toEqual(['rankstream-features', 'rankstream-processors', 'rankstream-reader']);
    expect(byKind('Secret'), 'no secret values in the repository').toEqual([]);
  });

  it('sets only env vars config/config.ts reads, secrets by reference from one Secret', () => {
    const known = new Set(CONFIG_VARIABLES);
    for (const key of Object.keys(configMap!.data ?? {})) expect(known.has(key), `ConfigMap key ${key}`).toBe(true);
    for (const { deployment, c } of containers) {
      for (const e of c.env ?? []) {
        expect(known.has(e.name), `${deployment.metadata.name}: env ${e.name}`).toBe(true);
        expect(e.value, `${e.name} comes from a reference, not a literal`).toBeUndefined();
        expect(e.valueFrom?.secretKeyRef?.name).toBe('rankstream-secrets');
      }
      for (const from of c.envFrom ?? []) expect(from.configMapRef?.name).toBe('rankstream-config');
    }
    const secretKeys = new Set(containers.flatMap(({ c }) => (c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.key)));
    expect([...secretKeys].sort()).toEqual(['CLICKHOUSE_PASSWORD', 'REDIS_URL']);
    expect(configMap!.data).not.toHaveProperty('CLICKHOUSE_PASSWORD');
    expect(configMap!.data).not.toHaveProperty('REDIS_URL');
  });

  it('probes hit routes the servers have, on the port the config makes them listen on', async () => {
    const data = configMap!.data!;
    const servers = [
      { match: 'cli/serve.ts', app: readerApp(), host: data.HTTP_HOST, port: Number(data.HTTP_PORT) },
      {
        match: 'cli/process.ts',
        app: processorsApp(),
        host: data.PROCESSOR_HTTP_HOST,
        port: Number(data.PROCESSOR_HTTP_PORT),
      },
      {
        match: 'cli/als.ts worker',
        app: processorsApp(),
        host: data.PROCESSOR_HTTP_HOST,
        port: Number(data.ALS_WORKER_HTTP_PORT),
      },
      {
        match: 'cli/retcon.ts worker',
        app: processorsApp(),
        host: data.PROCESSOR_HTTP_HOST,
        port: Number(data.RETCON_WORKER_HTTP_PORT),
      },
    ];
    let probed = 0;
    for (const { deployment, c } of containers) {
      const server = servers.find((s) => command(c).includes(s.match));
      const probes = [c.startupProbe, c.livenessProbe, c.readinessProbe].filter((p): p is Probe => p !== undefined);
      if (!server) {
        expect(probes, `${deployment.metadata.name} has no HTTP server to probe`).toEqual([]);
        continue;
      }
      expect(server.host, 'listens beyond loopback in a pod').toBe('0.0.0.0');
      expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(c.livenessProbe?.httpGet?.path).toBe('/livez');
      for (const probe of probes) {
        const get = probe.httpGet!;
        expect(
          server.app.hasRoute({ method: 'GET', url: get.path }),
          `${deployment.metadata.name}: GET ${get.path}`,
        ).toBe(true);
        const port = typeof get.port === 'number' ? get.port : c.ports?.find((p) => p.name === get.port)?.containerPort;
        expect(port, `${deployment.metadata.name}: probe port ${get.port}`).toBe(server.port);
        probed++;
      }
    }
    expect(probed).toBeGreaterThanOrEqual(12);
    for (const s of servers) await s.app.close();
  });

  it('runs every processor in exactly one Deployment; the ranker trainer as a single replica, never two at once', () => {
    const runs = new Map<string, string[]>();
    for (const { deployment, c } of containers) {
      const args = [...(c.command ?? []), ...(c.args ?? [])];
      if (!args.includes('cli/process.ts')) continue;
      const only = args.indexOf('--only');
      const names = only < 0 ? [...PROCESSOR_NAMES] : args[only + 1]!.split(',');
      for (const name of names) {
        expect(PROCESSOR_NAMES as readonly string[], `${deployment.metadata.name}: --only ${name}`).toContain(name);
        runs.set(name, [...(runs.get(name) ?? []), deployment.metadata.name]);
      }
    }
    for (const name of PROCESSOR_NAMES) expect(runs.get(name), name).toHaveLength(1);
    const trainer = deployments.find((d) => d.metadata.name === runs.get('ranker-trainer')![0])!;
    expect(trainer.spec!.replicas).toBe(1);
    expect(trainer.spec!.strategy?.type).toBe('Recreate');
  });

  it('processors stay within the topic partitions; every container has requests and limits', () => {
    const partitions = Number(configMap!.data!.TOPIC_PARTITIONS);
    const processorDeployments = containers
      .filter(({ c }) => command(c).includes('cli/process.ts'))
      .map(({ deployment }) => deployment);
    expect(processorDeployments.map((d) => d.metadata.name).sort()).toEqual([
      'rankstream-features',
      'rankstream-processors',
      'rankstream-ranker-trainer',
    ]);
    for (const d of processorDeployments) {
      expect(d.spec!.replicas, d.metadata.name).toBeGreaterThan(0);
      expect(d.spec!.replicas, d.metadata.name).toBeLessThanOrEqual(partitions);
    }
    for (const { deployment, c } of containers) {
      for (const r of ['cpu', 'memory']) {
        expect(c.resources?.requests?.[r], `${deployment.metadata.name} requests ${r}`).toBeDefined();
        expect(c.resources?.limits?.[r], `${deployment.metadata.name} limits ${r}`).toBeDefined();
      }
    }
  });

  it('grace periods cover the preStop delay plus SHUTDOWN_TIMEOUT_S; the reader drains before SIGTERM', () => {
    const shutdownS = Number(configMap!.data!.SHUTDOWN_TIMEOUT_S);
    expect(shutdownS).toBeGreaterThan(0);
    for (const d of deployments) {
      const spec = d.spec!.template!.spec;
      for (const c of spec.containers) {
        const pre = c.lifecycle?.preStop;
        const preStopS = pre?.sleep?.seconds ?? (pre?.exec?.command[0] === 'sleep' ? Number(pre.exec.command[1]) : 0);
        expect(spec.terminationGracePeriodSeconds ?? 30, d.metadata.name).toBeGreaterThanOrEqual(
          preStopS + shutdownS + 5,
        );
        if (command(c).includes('cli/serve.ts')) expect(preStopS).toBeGreaterThan(0);
      }
      // selectors match the pod labels
      expect(d.spec!.template!.metadata.labels).toMatchObject(d.spec!.selector!.matchLabels);
    }
  });
});
