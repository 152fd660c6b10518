// The feed routes: GET /v1/feeds/:user (query string) and POST /v1/feeds (JSON body), both checked by the same
// feed-request rules as the Kafka channel and answered by the same FeedService.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { checkFeedRequest } from '../../core/funnel/feed-request.ts';
import { callerTenant } from './caller.ts';
import type { HttpDeps } from './http-deps.ts';
import { badQuery, fail } from './replies.ts';

async function serveFeed(deps: HttpDeps, input: Record<string, unknown>, reply: FastifyReply) {
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

export function registerFeedRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Params: { user: string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/v1/feeds/:user',
    async (req, reply) => {
      const q = req.query;
      const bad = badQuery(q);
      if (bad) return fail(reply, 400, bad.field, bad.error);
      const list = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v.split(',') : []);
      const exclude = list(q.exclude);
      const caller = await callerTenant(deps, req.headers, q.tenant, reply);
      if ('error' in caller) return caller.error;
      return serveFeed(
        deps,
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
    const caller = await callerTenant(deps, req.headers, b.tenant, reply);
    if ('error' in caller) return caller.error;
    return serveFeed(
      deps,
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
}
