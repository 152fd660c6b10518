// Pinned items: the business rules' pins lead the pool whatever the rails found, if they pass the exact filters.
import type { Candidate } from '../../core/funnel/retrieval.ts';
import type { Redis } from '../../platform/redis.ts';
import { catalogItemsKey } from '../../state/keys.ts';
import type { FeedPlan } from './feed-context.ts';

/** The pool with the passing pins first (each once); the pool as it is without pins. */
export async function pinItems(redis: Redis, plan: FeedPlan, pool: Candidate[]): Promise<Candidate[]> {
  const { rules, filter } = plan;
  if (rules.pin.length === 0) return pool;
  // pinned items enter the pool whatever the rails found, if they pass the exact filters like everything else; a
  // tenant with a catalogue only gets pins of its own items back (no echo of an id it does not know)
  const kept = await filter.keep(
    rules.pin.map((itemId) => ({ itemId, score: 0 })),
    rules.pin.length,
  );
  const hasCatalogue =
    kept.length > 0 && kept.some((p) => filter.record(p.itemId) === null)
      ? (await redis.hlen(catalogItemsKey(plan.ctx.partition))) > 0
      : false;
  const pins = hasCatalogue ? kept.filter((p) => filter.record(p.itemId) !== null) : kept;
  const pinned = new Set(pins.map((p) => p.itemId));
  return [...pins.map((p): Candidate => ({ ...p, source: 'pinned' })), ...pool.filter((c) => !pinned.has(c.itemId))];
}
