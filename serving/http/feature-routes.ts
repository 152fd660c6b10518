// Real-time features, for debugging and for rankers outside this process: GET /v1/users/:user/features and
// GET /v1/items/:item/features.
import type { FastifyInstance } from 'fastify';
import { tenantId } from '../../core/events.ts';
import { callerTenant } from './caller.ts';
import type { HttpDeps } from './http-deps.ts';
import { badId, badQuery, fail } from './replies.ts';

export function registerFeatureRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Params: { user: string }; Querystring: Record<string, string | string[] | undefined> }>(
    '/v1/users/:user/features',
    async (req, reply) => {
      const bad = badQuery(req.query) ?? badId('user', req.params.user);
      if (bad) return fail(reply, 400, bad.field, bad.error);
      const caller = await callerTenant(deps, req.headers, req.query.tenant, reply);
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
      const caller = await callerTenant(deps, req.headers, req.query.tenant, reply);
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
}
