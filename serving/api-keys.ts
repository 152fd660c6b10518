// API keys: each belongs to one tenant, and the tenant of a request is the one of its key, never one it names.
// Keys are stored only as sha256 hashes (a leaked Redis dump reveals no usable key); a tenant may hold several, so
// a key is rotated by creating the new one, moving clients, then revoking the old one.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from '../platform/redis.ts';

const KEYS = 'rs:apikeys';
const tenantKeysKey = (tenant: string) => `rs:{${tenant}}:apikeys`;
export const REGISTERED_TENANTS_KEY = 'rs:registered-tenants';

export const hashApiKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Creates a key for the tenant (registering the tenant) and returns it: the only time it is ever visible. */
export async function createApiKey(redis: Redis, tenant: string): Promise<string> {
  const key = `rsk_${randomBytes(24).toString('base64url')}`;
  const hash = hashApiKey(key);
  await redis.pipeline().hset(KEYS, hash, tenant).sadd(tenantKeysKey(tenant), hash).sadd(REGISTERED_TENANTS_KEY, tenant).exec();
  return key;
}

export async function resolveApiKey(redis: Redis, key: string): Promise<string | null> {
  return redis.hget(KEYS, hashApiKey(key));
}

/** Revokes one key; the tenant stays registered. Returns false for a key that was not valid. */
export async function revokeApiKey(redis: Redis, key: string): Promise<boolean> {
  const hash = hashApiKey(key);
  const tenant = await redis.hget(KEYS, hash);
  if (!tenant) return false;
  await redis.pipeline().hdel(KEYS, hash).srem(tenantKeysKey(tenant), hash).exec();
  return true;
}

export async function isRegisteredTenant(redis: Redis, tenant: string): Promise<boolean> {
  return (await redis.sismember(REGISTERED_TENANTS_KEY, tenant)) === 1;
}
