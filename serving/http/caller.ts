// Who is calling: the API key a request carries, the tenant it belongs to, and the key's rate limit.
import type { FastifyReply } from 'fastify';
import { hashApiKey } from '../../state/api-keys.ts';
import type { HttpDeps } from './http-deps.ts';
import { fail, type ErrorBody } from './replies.ts';

/** Keys we issue are `rsk_` + 32 characters; anything much longer is refused without a lookup. */
const MAX_API_KEY_LENGTH = 256;

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

/**
 * The caller's tenant: the one of its API key (a request naming another tenant is refused), or, only when keys are
 * not required, the one it names.
 */
export async function callerTenant(
  deps: Pick<HttpDeps, 'resolveApiKey' | 'authRequired' | 'rateLimiter' | 'metrics'>,
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
