// Computes a user's feed from the live Redis state: for now, the tenant's time-decayed popularity minus what the
// user has seen or excluded. Tenant isolation holds by construction: candidates come only from the tenant's keys.
import { randomUUID } from 'node:crypto';
import { candidatePoolSize, rankFeed, type ScoredItem } from '../core/feed.ts';
import type { ValidFeedRequest } from '../core/feed-request.ts';
import { decayedScore } from '../core/popularity.ts';
import type { Redis } from '../platform/redis.ts';
import { popularityKey, readFeedInputs, readTopItems } from '../processors/feature-store.ts';

export const INDEX_VERSION = 'redis-live';

export type FeedOutcome =
  | { status: 'ok'; recommendationId: string; items: ScoredItem[]; modelVersion: string; indexVersion: string }
  | { status: 'unknown_tenant' | 'unknown_user'; field: 'tenant' | 'user'; error: string };

export class FeedService {
  constructor(
    private readonly redis: Redis,
    private readonly halfLifeMs: number,
    readonly modelVersion: string,
  ) {}

  async feed(req: ValidFeedRequest): Promise<FeedOutcome> {
    const inputs = await readFeedInputs(this.redis, req.tenant, req.userId);
    if (!inputs.tenantKnown) return { status: 'unknown_tenant', field: 'tenant', error: `tenant ${JSON.stringify(req.tenant)} is not known` };
    if (!inputs.userKnown) return { status: 'unknown_user', field: 'user', error: `user ${JSON.stringify(req.userId)} has no activity in tenant ${JSON.stringify(req.tenant)}` };
    const query = { k: req.k, seen: inputs.seen, exclude: new Set(req.exclude) };
    const candidates = await readTopItems(this.redis, popularityKey(req.tenant), candidatePoolSize(query));
    const asOf = inputs.latestEventMs ?? inputs.epochMs ?? 0;
    const epoch = inputs.epochMs ?? asOf;
    const items = rankFeed(candidates, query).map((c) => ({ itemId: c.itemId, score: decayedScore(c.score, epoch, asOf, this.halfLifeMs) }));
    return { status: 'ok', recommendationId: randomUUID(), items, modelVersion: this.modelVersion, indexVersion: INDEX_VERSION };
  }
}
