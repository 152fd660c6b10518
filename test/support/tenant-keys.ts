// Benchmarks run under throw-away tenants; this removes every Redis key of one (all carry the {tenant} hash tag).
import type { Redis } from '../../platform/redis.ts';

export async function deleteTenantKeys(redis: Redis, tenant: string): Promise<void> {
  const stream = redis.scanStream({ match: `rs:{${tenant}}:*`, count: 5000 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
}
