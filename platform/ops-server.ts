// Health and metrics over HTTP: the routes the reader's API carries too, and the small server a process without an API
// (the stream processors) runs on PROCESSOR_HTTP_HOST:PROCESSOR_HTTP_PORT.
//   GET /livez   200 while the event loop answers (nothing else is checked: see platform/health.ts)
//   GET /healthz the same as /livez (kept for existing probes)
//   GET /readyz  200 {status: 'ready', checks} or 503 {status: 'not_ready', notReady: [names], checks: {name: {ok, error}}}
//   GET /metrics Prometheus text format
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Readiness } from './health.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';

export const LIVENESS_PATHS = ['/livez', '/healthz'] as const;
export const READINESS_PATH = '/readyz';
export const METRICS_PATH = '/metrics';

export function registerHealthRoutes(app: FastifyInstance, deps: { metrics: Metrics; readiness: Readiness }): void {
  for (const path of LIVENESS_PATHS) app.get(path, async () => ({ status: 'ok' }));

  app.get(READINESS_PATH, async (_req, reply) => {
    const report = await deps.readiness.report();
    return reply.code(report.status === 'ready' ? 200 : 503).send(report);
  });

  app.get(METRICS_PATH, async (_req, reply) => {
    void reply.header('content-type', deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}

export interface OpsServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Listens with only the health and metrics routes. Port 0 takes any free port (see url). */
export async function startOpsServer(opts: {
  host: string;
  port: number;
  metrics: Metrics;
  readiness: Readiness;
  logger: Logger;
}): Promise<OpsServer> {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'ops-http' }, { level: 'warn' }) as FastifyBaseLogger,
  });
  registerHealthRoutes(app, opts);
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, field: 'path' }),
  );
  await app.listen({ host: opts.host, port: opts.port });
  const { port } = app.server.address() as AddressInfo;
  return {
    app,
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`,
    close: () => app.close(),
  };
}
