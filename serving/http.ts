// The reader's HTTP face: feeds, liveness (/livez, /healthz), readiness (/readyz) and Prometheus metrics (/metrics).
// Every 4xx names the offending field. The routes live in serving/http/; the hooks around them are here.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { registerHealthRoutes } from '../platform/ops-server.ts';
import { registerFeatureRoutes } from './http/feature-routes.ts';
import { registerFeedRoutes } from './http/feed-routes.ts';
import type { HttpDeps } from './http/http-deps.ts';
import { MAX_ID_LENGTH } from './http/replies.ts';

export { apiKeyOf } from './http/caller.ts';
export type { HttpDeps } from './http/http-deps.ts';

/** The server: hooks first (load shedding, request metrics, error bodies), then the API, feature and ops routes. */
export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  const app = createApp(deps);
  registerLoadShedding(app, deps);
  registerRequestMetrics(app, deps);
  registerErrorHandlers(app, deps);
  registerFeedRoutes(app, deps);
  registerFeatureRoutes(app, deps);
  registerHealthRoutes(app, deps);
  return app;
}

function createApp(deps: HttpDeps): FastifyInstance {
  // Request logs are info-level; the http child logs warnings and errors only, so a busy reader does not log per request.
  return Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    // ids may be 256 characters (the zod checks name the field when longer); the router's default cut is 100
    routerOptions: { maxParamLength: 4 * MAX_ID_LENGTH },
    // a malformed URL (bad percent-encoding, an over-long path parameter) gets the same {error, field} body as the rest
    frameworkErrors: (err, _req, reply) => {
      void (reply as unknown as FastifyReply)
        .code(err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400)
        .send({ error: err.message, field: 'path' });
    },
  });
}

/**
 * Load shedding. Counted from the routing of the request to the end (or abort) of its response: the raw response's
 * 'close' fires once in both cases.
 */
function registerLoadShedding(app: FastifyInstance, deps: HttpDeps): void {
  let inFlight = 0;
  const maxInFlight = deps.maxInFlight ?? 0;
  app.addHook('onRequest', async (req, reply) => {
    const route = req.routeOptions.url;
    if (route === undefined || !route.startsWith('/v1/')) return;
    if (maxInFlight > 0 && inFlight >= maxInFlight) {
      deps.metrics.httpShed.inc({ route });
      return reply
        .code(503)
        .header('retry-after', '1')
        .send({
          error: `request: this reader is serving ${maxInFlight} requests already (HTTP_MAX_IN_FLIGHT); retry after 1 s`,
          field: 'request',
        });
    }
    inFlight++;
    deps.metrics.httpInFlight.set(inFlight);
    reply.raw.once('close', () => {
      inFlight--;
      deps.metrics.httpInFlight.set(inFlight);
    });
  });
}

function registerRequestMetrics(app: FastifyInstance, deps: HttpDeps): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    deps.metrics.httpSeconds.observe({ route }, reply.elapsedTime / 1000);
  });
}

/** A 4xx keeps its message (a body that cannot be parsed names the body); anything else is a logged 500. */
function registerErrorHandlers(app: FastifyInstance, deps: HttpDeps): void {
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      deps.logger.error({ err }, 'request failed');
      return reply.code(500).send({ error: 'internal error', field: 'request' });
    }
    const field = err.code?.startsWith('FST_ERR_CTP') ? 'body' : 'request';
    return reply.code(status).send({ error: err.message, field });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, field: 'path' }),
  );
}
