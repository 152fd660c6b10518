// The reader's HTTP face: feeds, liveness (/livez, /healthz), readiness (/readyz) and Prometheus metrics (/metrics).
// Every 4xx names the offending field.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { tenantId } from '../core/events.ts';
import { checkFeedRequest, type FeedRequestLimits } from '../core/feed-request.ts';
import type { Readiness } from '../platform/health.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { registerHealthRoutes } from '../platform/ops-server.ts';
import type { FeatureService } from './feature-service.ts';
import type { FeedService } from './feed-service.ts';

export interface HttpDeps {
  feeds: FeedService;
  features: FeatureService;
  limits: FeedRequestLimits;
  metrics: Metrics;
  logger: Logger;
  /** /readyz: the reader's dependencies (Redis, indexes, Kafka producer) and whether it is shutting down. */
  readiness: Readiness;
  /** The tenant an API key belongs to, or null for an unknown or revoked key. */
  resolveApiKey: (key: string) => Promise<string | null>;
  /** Without a key, refuse (true) or take the tenant the request names (false: local development). */
  authRequired: boolean;
}

interface ErrorBody {
  error: string;
  field: string;
}

function fail(reply: FastifyReply, status: number, field: string, error: string): ErrorBody {
  void reply.code(status);
  return { error, field };
}

export function buildHttpServer(deps: HttpDeps): FastifyInstance {
  // Request logs are info-level; the http child logs warnings and errors only, so a busy reader does not log per request.
  const app = Fastify({ loggerInstance: deps.logger.child({ component: 'http' }, { level: 'warn' }) as FastifyBaseLogger, bodyLimit: 64 * 1024 });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    deps.metrics.httpRequests.inc({ route, status: String(reply.statusCode) });
    deps.metrics.httpSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) {
      deps.logger.error({ err }, 'request failed');
      return reply.code(500).send({ error: 'internal error', field: 'request' });
    }
    const field = err.code?.startsWith('FST_ERR_CTP') ? 'body' : 'request';
    return reply.code(status).send({ error: err.message, field });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, field: 'path' }));

  /**
   * The caller's tenant: the one of its API key (a request naming another tenant is refused), or, only when keys are
   * not required, the one it names.
   */
  async function callerTenant(headers: Record<string, string | string[] | undefined>, named: unknown, reply: FastifyReply): Promise<{ tenant: unknown } | { error: ErrorBody }> {
    const auth = headers.authorization;
    const key = typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice(7).trim() : typeof headers['x-api-key'] === 'string' ? headers['x-api-key'] : null;
    if (key) {
      const tenant = await deps.resolveApiKey(key);
      if (!tenant) return { error: fail(reply, 401, 'authorization', 'authorization: unknown or revoked API key') };
      if (named !== undefined && named !== tenant) return { error: fail(reply, 403, 'tenant', 'tenant: the API key belongs to another tenant; omit tenant or name your own') };
      return { tenant };
    }
    if (deps.authRequired) return { error: fail(reply, 401, 'authorization', 'authorization: an API key is required (Authorization: Bearer <key> or x-api-key)') };
    return { tenant: named };
  }

  async function serveFeed(input: Record<string, unknown>, reply: FastifyReply) {
    const endTimer = deps.metrics.feedSeconds.startTimer({ channel: 'http' });
    const checked = checkFeedRequest(input, deps.limits);
    if (!checked.ok) {
      deps.metrics.feedsServed.inc({ channel: 'http', status: 'invalid_request' });
      return fail(reply, 400, checked.field, checked.error);
    }
    const outcome = await deps.feeds.feed(checked.value);
    endTimer();
    deps.metrics.feedsServed.inc({ channel: 'http', status: outcome.status });
    if (outcome.status !== 'ok') return fail(reply, 404, outcome.field, outcome.error);
    return { tenant: checked.value.tenant, user: checked.value.userId, ...outcome };
  }

  app.get<{ Params: { user: string }; Querystring: Record<string, string | string[] | undefined> }>('/v1/feeds/:user', async (req, reply) => {
    const q = req.query;
    for (const [name, value] of Object.entries(q)) {
      if (Array.isArray(value)) return fail(reply, 400, name, `${name}: given more than once`);
    }
    const list = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v.split(',') : []);
    const exclude = list(q.exclude);
    const caller = await callerTenant(req.headers, q.tenant, reply);
    if ('error' in caller) return caller.error;
    return serveFeed({ tenant: caller.tenant, userId: req.params.user, k: q.k === '' ? Number.NaN : q.k, exclude, where: q.where, seedItems: list(q.seed), rules: q.rules, explain: q.explain }, reply);
  });

  app.post('/v1/feeds', async (req, reply) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail(reply, 400, 'body', 'body: must be a JSON object');
    const b = body as Record<string, unknown>;
    const caller = await callerTenant(req.headers, b.tenant, reply);
    if ('error' in caller) return caller.error;
    return serveFeed({ tenant: caller.tenant, userId: b.user, k: b.k, exclude: b.exclude, where: b.where, seedItems: b.seedItems, rules: b.rules, explain: b.explain }, reply);
  });

  // Real-time features, for debugging and for rankers outside this process.
  app.get<{ Params: { user: string }; Querystring: { tenant?: string } }>('/v1/users/:user/features', async (req, reply) => {
    const caller = await callerTenant(req.headers, req.query.tenant, reply);
    if ('error' in caller) return caller.error;
    const tenant = tenantId.safeParse(caller.tenant);
    if (!tenant.success) return fail(reply, 400, 'tenant', `tenant: ${tenant.error.issues[0]?.message ?? 'invalid'}`);
    if (!(await deps.features.tenantKnown(tenant.data))) return fail(reply, 404, 'tenant', `tenant ${JSON.stringify(tenant.data)} is not known`);
    return { tenant: tenant.data, user: req.params.user, ...(await deps.features.user(tenant.data, req.params.user)) };
  });

  app.get<{ Params: { item: string }; Querystring: { tenant?: string; category?: string } }>('/v1/items/:item/features', async (req, reply) => {
    const caller = await callerTenant(req.headers, req.query.tenant, reply);
    if ('error' in caller) return caller.error;
    const tenant = tenantId.safeParse(caller.tenant);
    if (!tenant.success) return fail(reply, 400, 'tenant', `tenant: ${tenant.error.issues[0]?.message ?? 'invalid'}`);
    if (!(await deps.features.tenantKnown(tenant.data))) return fail(reply, 404, 'tenant', `tenant ${JSON.stringify(tenant.data)} is not known`);
    return { tenant: tenant.data, item: req.params.item, ...(await deps.features.item(tenant.data, req.params.item, req.query.category ?? null)) };
  });

  registerHealthRoutes(app, deps);

  return app;
}
