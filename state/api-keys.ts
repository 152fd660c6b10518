// API keys: each belongs to one tenant, and the tenant of a request is the one of its key, never one it names.
// Keys are stored only as sha256 hashes (a leaked Redis dump reveals no usable key); a tenant may hold several, so
// a key is rotated by creating the new one, moving clients, then revoking the old one (both are valid meanwhile). Keys
// are 192 random bits, so a fast hash is enough: there is nothing to brute-force, unlike a password.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from '../platform/redis.ts';
import { API_KEYS_CREATED_KEY, API_KEYS_KEY, REGISTERED_TENANTS_KEY, tenantApiKeysKey } from './keys.ts';

export const hashApiKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Creates a key for the tenant (registering the tenant) and returns it: the only time it is ever visible. */
export async function createApiKey(redis: Redis, tenant: string): Promise<string> {
  const key = `rsk_${randomBytes(24).toString('base64url')}`;
  const hash = hashApiKey(key);
  await redis
    .pipeline()
    .hset(API_KEYS_KEY, hash, tenant)
    .hset(API_KEYS_CREATED_KEY, hash, String(Date.now()))
    .sadd(tenantApiKeysKey(tenant), hash)
    .sadd(REGISTERED_TENANTS_KEY, tenant)
    .exec();
  return key;
}

/** A key's public id: the first 16 hex digits of its hash. Safe to log and show; it cannot be turned back into the key. */
export const apiKeyId = (hash: string) => hash.slice(0, 16);

export interface ApiKeyInfo {
  id: string;
  /** Creation time (ms), null for keys created before it was recorded. */
  createdAt: number | null;
}

/** The tenant's valid keys by id, oldest first: what a rotation looks at before revoking the old one. */
export async function listApiKeys(redis: Redis, tenant: string): Promise<ApiKeyInfo[]> {
  const hashes = (await redis.smembers(tenantApiKeysKey(tenant))).sort();
  const created = hashes.length > 0 ? await redis.hmget(API_KEYS_CREATED_KEY, ...hashes) : [];
  return hashes
    .map((h, i) => ({ id: apiKeyId(h), createdAt: created[i] ? Number(created[i]) : null }))
    .sort((a, b) => (a.createdAt ?? 0) - (b.createdAt ?? 0));
}

/** Revokes the tenant's key with this id (for a key whose value is lost or leaked). Returns false when none matches. */
export async function revokeApiKeyById(redis: Redis, tenant: string, id: string): Promise<boolean> {
  if (!/^[0-9a-f]{16}$/.test(id)) return false;
  const hash = (await redis.smembers(tenantApiKeysKey(tenant))).find((h) => apiKeyId(h) === id);
  if (!hash) return false;
  await redis
    .pipeline()
    .hdel(API_KEYS_KEY, hash)
    .hdel(API_KEYS_CREATED_KEY, hash)
    .srem(tenantApiKeysKey(tenant), hash)
    .exec();
  return true;
}

export async function resolveApiKey(redis: Redis, key: string): Promise<string | null> {
  return redis.hget(API_KEYS_KEY, hashApiKey(key));
}

/** Revokes one key; the tenant stays registered. Returns false for a key that was not valid. */
export async function revokeApiKey(redis: Redis, key: string): Promise<boolean> {
  const hash = hashApiKey(key);
  const tenant = await redis.hget(API_KEYS_KEY, hash);
  if (!tenant) return false;
  await redis
    .pipeline()
    .hdel(API_KEYS_KEY, hash)
    .hdel(API_KEYS_CREATED_KEY, hash)
    .srem(tenantApiKeysKey(tenant), hash)
    .exec();
  return true;
}

export async function isRegisteredTenant(redis: Redis, tenant: string): Promise<boolean> {
  return (await redis.sismember(REGISTERED_TENANTS_KEY, tenant)) === 1;
}

/** Removes the tenant from the registered tenants (its keys stay valid until revoked). */
export async function unregisterTenant(redis: Redis, tenant: string): Promise<void> {
  await redis.srem(REGISTERED_TENANTS_KEY, tenant);
}
