// Redis client factory. Commands queue while reconnecting so a Redis restart delays work instead of failing it.
import { Redis } from 'ioredis';
import type { Config } from '../config/config.ts';
import { createLogger, type Logger } from './logger.ts';

export type { Redis };

/** While Redis is down ioredis emits an error per reconnect attempt; one log line per this interval is enough. */
const ERROR_LOG_INTERVAL_MS = 10_000;

export function createRedis(config: Config, logger: Logger = createLogger(config.logLevel, 'redis')): Redis {
  const redis = new Redis(config.redisUrl, {
    maxRetriesPerRequest: 20,
    enableAutoPipelining: false,
    lazyConnect: false,
  });
  // Without a listener ioredis prints "Unhandled error event" with a stack for every attempt. Commands still fail or
  // retry on their own; this only reports the connection state, throttled, without the URL (it may hold a password).
  let lastLoggedAt = 0;
  let suppressed = 0;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    if (now - lastLoggedAt < ERROR_LOG_INTERVAL_MS) {
      suppressed += 1;
      return;
    }
    logger.warn(
      { err: { message: err.message, code: (err as NodeJS.ErrnoException).code }, suppressedSinceLast: suppressed },
      'redis connection error; reconnecting',
    );
    lastLoggedAt = now;
    suppressed = 0;
  });
  return redis;
}
