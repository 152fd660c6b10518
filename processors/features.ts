// The features processor: decode -> plan (pure, core/features/feature-updates.ts) -> atomic, idempotent Redis update per
// tenant -> commit. Maintains popularity, trending, seen and recent items, sessions and windowed counters.
import type { InteractionEvent } from '../core/events.ts';
import { planFeatureBatch } from '../core/features/feature-updates.ts';
import type { DecayParams } from '../core/features/popularity.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { applyFeaturePlans, readFeatureState, type FeatureLimits } from '../state/feature-writes.ts';

export class FeaturesProcessor implements BatchProcessor<InteractionEvent> {
  readonly name = 'features';
  /** Events applied by this instance (re-delivered events already applied are not counted). */
  applied = 0;

  constructor(
    private readonly redis: Redis,
    private readonly params: DecayParams,
    private readonly limits: FeatureLimits,
  ) {}

  async process(records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const events = records.map((r) => r.value);
    const tenants = [...new Set(events.map((e) => e.tenant))];
    const users = [
      ...new Map(events.map((e) => [`${e.tenant}/${e.userId}`, { tenant: e.tenant, user: e.userId }])).values(),
    ];
    const state = await readFeatureState(this.redis, tenants, users);
    this.applied += await applyFeaturePlans(this.redis, planFeatureBatch(events, state, this.params), this.limits);
  }
}
