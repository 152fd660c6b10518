// A tenant's A/B experiments in Redis (experimentsKey in state/keys.ts: id -> JSON), written by the experiments CLI and read by
// readers through a short cache: a change reaches every reader within EXPERIMENTS_REFRESH_MS, and a feed never waits
// on more than one read per tenant per interval.
import { experimentSchema, type Experiment } from '../core/experiments/assignment.ts';
import { ExpiringCache } from '../platform/expiring-cache.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import { experimentsKey } from './keys.ts';

const EXPERIMENTS_REFRESH_MS = 5_000;

export async function saveExperiment(redis: Redis, tenant: string, e: Experiment): Promise<void> {
  await redis.hset(experimentsKey(tenant), e.id, JSON.stringify(experimentSchema.parse(e)));
}

export async function listExperiments(redis: Redis, tenant: string): Promise<Experiment[]> {
  const raw = await redis.hgetall(experimentsKey(tenant));
  return Object.keys(raw)
    .sort()
    .map((id) => experimentSchema.parse(JSON.parse(raw[id]!)));
}

export async function getExperiment(redis: Redis, tenant: string, id: string): Promise<Experiment | null> {
  const raw = await redis.hget(experimentsKey(tenant), id);
  return raw ? experimentSchema.parse(JSON.parse(raw)) : null;
}

export class ExperimentCache {
  private readonly cache = new ExpiringCache<string, Experiment[]>(EXPERIMENTS_REFRESH_MS);

  constructor(
    private readonly redis: Redis,
    private readonly logger: Logger | null = null,
  ) {}

  /** The tenant's active experiments; a stored experiment that no longer parses is skipped and logged, not served. */
  active(tenant: string): Promise<Experiment[]> {
    return this.cache.get(tenant, async () => {
      const raw = await this.redis.hgetall(experimentsKey(tenant));
      const out: Experiment[] = [];
      for (const id of Object.keys(raw).sort()) {
        const parsed = experimentSchema.safeParse(JSON.parse(raw[id]!));
        if (parsed.success) {
          if (parsed.data.active) out.push(parsed.data);
        } else
          this.logger?.error(
            { tenant, experiment: id, error: parsed.error.message },
            'skipping an invalid stored experiment',
          );
      }
      return out;
    });
  }
}
