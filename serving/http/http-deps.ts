// What the reader's HTTP server is built from (serving/http.ts).
import type { FeedRequestLimits } from '../../core/funnel/feed-request.ts';
import type { Readiness } from '../../platform/health.ts';
import type { Logger } from '../../platform/logger.ts';
import type { Metrics } from '../../platform/metrics.ts';
import type { RateLimiter } from '../../state/rate-limits.ts';
import type { FeatureService } from '../feature-service.ts';
import type { FeedService } from '../feed-service.ts';

export interface HttpDeps {
  feeds: FeedService;
  features: FeatureService;
  limits: FeedRequestLimits;
  metrics: Metrics;
  logger: Logger;
  /** /readyz: the reader's dependencies (Redis, indexes, Kafka producer) and whether it is shutting down. */
  readiness: Readiness;
  /** The tenant an API key belongs to, or null for an unknown or revoked key. */
  resolveApiKey: (key: string) => Promise<string | null>;
  /** Without a key, refuse (true) or take the tenant the request names (false: local development). */
  authRequired: boolean;
  /** Per-API-key token bucket (RATE_LIMIT_PER_S / RATE_LIMIT_BURST); absent or disabled: no limit. */
  rateLimiter?: RateLimiter;
  /** Largest request body, bytes (HTTP_BODY_LIMIT_BYTES; default 64 KiB): larger is 413. */
  bodyLimit?: number;
  /**
   * Load shedding (HTTP_MAX_IN_FLIGHT): API requests (/v1/*) served at once; one more is answered 503 with Retry-After
   * before any work (no Redis call), so a slow dependency cannot pile requests up without bound. 0 or absent: no limit.
   * Probes and /metrics are never shed.
   */
  maxInFlight?: number;
}
