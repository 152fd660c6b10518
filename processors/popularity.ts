// The popularity processor: decode -> plan (pure, core/popularity.ts) -> one atomic Redis update per tenant -> commit.
// Maintains time-decayed per-tenant item scores and each user's recently seen items.
import type { InteractionEvent } from '../core/events.ts';
import { planPopularityUpdate, type PopularityParams } from '../core/popularity.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { applyUpdates, readEpochs, type StoreLimits } from './popularity-store.ts';

export class PopularityProcessor implements BatchProcessor<InteractionEvent> {
  readonly name = 'popularity';

  constructor(
    private readonly redis: Redis,
    private readonly params: PopularityParams,
    private readonly limits: StoreLimits,
  ) {}

  async process(records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const events = records.map((r) => r.value);
    const tenants = [...new Set(events.map((e) => e.tenant))];
    const state = await readEpochs(this.redis, tenants);
    await applyUpdates(this.redis, planPopularityUpdate(events, state, this.params), this.limits);
  }
}
