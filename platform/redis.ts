// Redis client factory. Commands queue while reconnecting so a Redis restart delays work instead of failing it.
import { Redis } from 'ioredis';
import type { Config } from '../core/config.ts';

export type { Redis };

export function createRedis(config: Config): Redis {
  return new Redis(config.redisUrl, { maxRetriesPerRequest: 20, enableAutoPipelining: false, lazyConnect: false });
}
