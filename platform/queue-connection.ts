// BullMQ's Redis connection: the same Redis as the features, with the options BullMQ requires of blocking clients.
import type { ConnectionOptions } from 'bullmq';
import type { Config } from '../config/config.ts';

export function bullConnection(config: Config): ConnectionOptions {
  const url = new URL(config.redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}
