// The tenants with data (the set the features processor adds a tenant to on its first event) and tenant-wide
// operations over every key of one tenant (all carry its hash tag, state/keys.ts): the demo's reset and benchmarks'
// and tests' cleanup of throw-away tenants.
import type { Redis } from '../platform/redis.ts';
import { TENANTS_KEY, tenantKeyPattern } from './keys.ts';

/** Every tenant with data, unordered. */
export function listTenants(redis: Redis): Promise<string[]> {
  return redis.smembers(TENANTS_KEY);
}

/** Whether the tenant has data (has sent at least one event). */
export async function isKnownTenant(redis: Redis, tenant: string): Promise<boolean> {
  return (await redis.sismember(TENANTS_KEY, tenant)) === 1;
}

/** Removes the tenant from the tenants with data (its keys stay: deleteTenantKeys removes them). */
export async function forgetTenant(redis: Redis, tenant: string): Promise<void> {
  await redis.srem(TENANTS_KEY, tenant);
}

/** Removes every key of the tenant (SCAN over its hash tag, then UNLINK). Not atomic: stop writers first. */
export async function deleteTenantKeys(redis: Redis, tenant: string): Promise<void> {
  const stream = redis.scanStream({ match: tenantKeyPattern(tenant), count: 5000 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
}
