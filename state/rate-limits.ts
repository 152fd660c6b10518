// Rate limits per API key: a token bucket in Redis, so the limit holds across every reader replica (a client spreading
// its requests over replicas gets the same budget as one hitting a single replica).
//
// The bucket holds up to `burst` tokens and refills at `perS` tokens a second; a request takes one token or is refused
// with the time until the next token. One Lua script per request reads, refills, takes and writes atomically, on the
// Redis server's clock (TIME), so readers' clock skew does not matter. State is two numbers per key in a hash that
// expires once a full bucket would have refilled: idle keys cost nothing.
//
// Why not @fastify/rate-limit: its Redis store is a fixed-window counter (INCR + PEXPIRE per window), which lets twice
// the limit through across a window boundary and has no burst separate from the rate; and it keys requests before the
// route runs, while our limit is per authenticated key, resolved in the handler (an unknown key is 401, not counted).
import type { Redis } from '../platform/redis.ts';
import { rateLimitKey } from './keys.ts';
import { luaScript } from './lua-scripts.ts';

export interface RateLimitSettings {
  /** Tokens added per second (the sustained request rate); 0 disables limiting. */
  perS: number;
  /** Bucket size: requests a key may make at once after being idle. */
  burst: number;
}

export interface RateLimitDecision {
  allowed: boolean;
  /** Whole tokens left after this request. */
  remaining: number;
  /** When refused: milliseconds until a token is available. 0 when allowed. */
  retryAfterMs: number;
}

// Reads, refills, takes and writes a bucket atomically (state/lua/token-bucket.lua).
const TOKEN_BUCKET = luaScript('token-bucket');

const COMMAND = 'rsTokenBucket';

interface WithTokenBucket {
  [COMMAND](key: string, perS: string, burst: string): Promise<[number, number, number]>;
}

export class RateLimiter {
  private readonly redis: Redis & WithTokenBucket;

  constructor(
    redis: Redis,
    readonly settings: RateLimitSettings,
  ) {
    if (!(COMMAND in redis)) redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TOKEN_BUCKET });
    this.redis = redis as Redis & WithTokenBucket;
  }

  get enabled(): boolean {
    return this.settings.perS > 0;
  }

  /** Takes a token from the key's bucket. `keyId` identifies the key (its hash). */
  async take(keyId: string): Promise<RateLimitDecision> {
    if (!this.enabled) return { allowed: true, remaining: this.settings.burst, retryAfterMs: 0 };
    const [allowed, remaining, wait] = await this.redis[COMMAND](
      rateLimitKey(keyId),
      String(this.settings.perS),
      String(this.settings.burst),
    );
    return { allowed: allowed === 1, remaining, retryAfterMs: wait };
  }
}
