// The reader's HTTP face: feeds, liveness (/livez, /healthz), readiness (/readyz) and Prometheus metrics (/metrics).
// Every 4xx names the offending field.
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { tenantId } from '../core/events.ts';
import { checkFeedRequest, type FeedRequestLimits } from '../core/funnel/feed-request.ts';
import type { Readiness } from '../platform/health.ts';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { registerHealthRoutes } from '../platform/ops-server.ts';
import type { FeatureService } from './feature-service.ts';
import type { FeedService } from './feed-service.ts';
import { hashApiKey } from '../state/api-keys.ts';
import type { RateLimiter } from '../state/rate-limits.ts';

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
  /** Per-API-key token bucket (RATE_LIMIT_PER_S / RATE_LIMIT_BURST); absent or disabled: no limit. */
  rateLimiter?: RateLimiter;
  /** Largest request body, bytes (HTTP_BODY_LIMIT_BYTES; default 64 KiB): larger is 413. */
  bodyLimit?: number;
  /**
   * Load shedding (HTTP_MAX_IN_FLIGHT): API requests (/v1/*) served at once; one more is answered 503 with Retry-After
   * before any work (no Redis call), so a slow dependency cannot pile requests up without bound. 0 or absent: no limit.
   * Probes and /metrics are never shed.
   */
  maxInFlight?: number;
}

/** Keys we issue are `rsk_` + 32 characters; anything much longer is refused without a lookup. */
const MAX_API_KEY_LENGTH = 256;
const MAX_ID_LENGTH = 256;

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
  const app = Fastify({
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

  // Load shedding. Counted from the routing of the request to the end (or abort) of its response: the raw response's
  // 'close' fires once in both cases.
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
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}`, field: 'path' }),
  );

  /**
   * The caller's tenant: the one of its API key (a request naming another tenant is refused), or, only when keys are
   * not required, the one it names.
   */
  async function callerTenant(
    headers: Record<string, string | string[] | undefined>,
    named: unknown,
    reply: FastifyReply,
  ): Promise<{ tenant: unknown } | { error: ErrorBody }> {
    const given = apiKeyOf(headers);
    if ('error' in given) return { error: fail(reply, 401, 'authorization', given.error) };
    const key = given.key;
    if (key !== null) {
      const tenant = key.length > MAX_API_KEY_LENGTH ? null : await deps.resolveApiKey(key);
      if (!tenant) return { error: fail(reply, 401, 'authorization', 'authorization: unknown or revoked API key') };
      if (deps.rateLimiter?.enabled) {
        const decision = await deps.rateLimiter.take(hashApiKey(key));
        void reply.header('x-ratelimit-remaining', String(decision.remaining));
        if (!decision.allowed) {
          deps.metrics.rateLimited.inc({ tenant });
          void reply.header('retry-after', String(Math.max(1, Math.ceil(decision.retryAfterMs / 1000))));
          return {
            error: fail(
              reply,
              429,
              'authorization',
              `authorization: rate limit of this API key exceeded (${deps.rateLimiter.settings.perS}/s, burst ${deps.rateLimiter.settings.burst}); retry after ${decision.retryAfterMs} ms`,
            ),
          };
        }
      }
      if (named !== undefined && named !== tenant)
        return {
          error: fail(
            reply,
            403,
            'tenant',
            'tenant: the API key belongs to another tenant; omit tenant or name your own',
          ),
        };
      return { tenant };
    }
    if (deps.authRequired)
      return {
        error: fail(
          reply,
          401,
          'authorization',
          'authorization: an API key is required (Authorization: Bearer <key> or x-api-key)',
        ),
      };
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

  app.get<{ Params: { user: string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/v1/feeds/:user',
    async (req, reply) => {
      const q = req.query;
      const bad = badQuery(q);
      if (bad) return fail(reply, 400, bad.field, bad.error);
      const list = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v.split(',') : []);
      const exclude = list(q.exclude);
      const caller = await callerTenant(req.headers, q.tenant, reply);
      if ('error' in caller) return caller.error;
      return serveFeed(
        {
          tenant: caller.tenant,
          userId: req.params.user,
          k: q.k === '' ? Number.NaN : q.k,
          exclude,
          where: q.where,
          seedItems: list(q.seed),
          rules: q.rules,
          explain: q.explain,
        },
        reply,
      );
    },
  );

  app.post('/v1/feeds', async (req, reply) => {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body))
      return fail(reply, 400, 'body', 'body: must be a JSON object');
    const b = body as Record<string, unknown>;
    const caller = await callerTenant(req.headers, b.tenant, reply);
    if ('error' in caller) return caller.error;
    return serveFeed(
      {
        tenant: caller.tenant,
        userId: b.user,
        k: b.k,
        exclude: b.exclude,
        where: b.where,
        seedItems: b.seedItems,
        rules: b.rules,
        explain: b.explain,
      },
      reply,
    );
  });

  // Real-time features, for debugging and for rankers outside this process.
  app.get<{ Params: { user: string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/v1/users/:user/features',
    async (req, reply) => {
      const bad = badQuery(req.query) ?? badId('user', req.params.user);
      if (bad) return fail(reply, 400, bad.field, bad.error);
      const caller = await callerTenant(req.headers, req.query.tenant, reply);
      if ('error' in caller) return caller.error;
      const tenant = tenantId.safeParse(caller.tenant);
      if (!tenant.success) return fail(reply, 400, 'tenant', `tenant: ${tenant.error.issues[0]?.message ?? 'invalid'}`);
      if (!(await deps.features.tenantKnown(tenant.data)))
        return fail(reply, 404, 'tenant', `tenant ${JSON.stringify(tenant.data)} is not known`);
      return {
        tenant: tenant.data,
        user: req.params.user,
        ...(await deps.features.user(tenant.data, req.params.user)),
      };
    },
  );

  app.get<{ Params: { item: string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/v1/items/:item/features',
    async (req, reply) => {
      const category = req.query.category;
      const bad =
        badQuery(req.query) ??
        badId('item', req.params.item) ??
        (typeof category === 'string' && category.length > 1024
          ? { field: 'category', error: 'category: longer than 1024 characters' }
          : null);
      if (bad) return fail(reply, 400, bad.field, bad.error);
      const caller = await callerTenant(req.headers, req.query.tenant, reply);
      if ('error' in caller) return caller.error;
      const tenant = tenantId.safeParse(caller.tenant);
      if (!tenant.success) return fail(reply, 400, 'tenant', `tenant: ${tenant.error.issues[0]?.message ?? 'invalid'}`);
      if (!(await deps.features.tenantKnown(tenant.data)))
        return fail(reply, 404, 'tenant', `tenant ${JSON.stringify(tenant.data)} is not known`);
      return {
        tenant: tenant.data,
        item: req.params.item,
        ...(await deps.features.item(tenant.data, req.params.item, typeof category === 'string' ? category : null)),
      };
    },
  );

  registerHealthRoutes(app, deps);

  return app;
}

/**
 * The API key a request carries: `Authorization: Bearer <key>` or `x-api-key: <key>`, or none. A credential in another
 * form (another scheme, an empty key) is refused rather than ignored: ignoring it would serve the request as
 * unauthenticated, under the tenant it names, when keys are optional.
 */
export function apiKeyOf(
  headers: Record<string, string | string[] | undefined>,
): { key: string | null } | { error: string } {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = typeof auth === 'string' ? /^Bearer +(\S+) *$/i.exec(auth) : null;
    return m ? { key: m[1]! } : { error: 'authorization: expected "Bearer <key>"' };
  }
  const x = headers['x-api-key'];
  if (x === undefined) return { key: null };
  const key = typeof x === 'string' ? x.trim() : '';
  return key.length > 0 && !/\s|,/.test(key) ? { key } : { error: 'authorization: x-api-key must hold one key' };
}

function badQuery(q: Record<string, string | string[] | undefined>): { field: string; error: string } | null {
  for (const [name, value] of Object.entries(q)) {
    if (Array.isArray(value)) return { field: name, error: `${name}: given more than once` };
  }
  return null;
}

function badId(field: string, value: string): { field: string; error: string } | null {
  return value.length > MAX_ID_LENGTH ? { field, error: `${field}: longer than ${MAX_ID_LENGTH} characters` } : null;
}
