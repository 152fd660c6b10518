// Stage 2's exact filter: what the user saw or excluded, deleted items and hard attribute constraints, checked against
// catalogue records looked up in as few round trips as the feed needs; and a rail's widening when the filter bites.
import { satisfies, type CatalogItem, type Constraints } from '../../core/catalog.ts';
import type { ScoredItem } from '../../core/funnel/filters.ts';
import { excludedByRules, type BusinessRules } from '../../core/funnel/rerank.ts';
import type { Redis } from '../../platform/redis.ts';
import { readCatalogItems } from '../../state/catalog.ts';

/** One request's stage-2 filter: what the user saw or excluded, and the catalogue facts looked up so far. */
export class ExactFilter {
  private readonly catalog = new Map<string, CatalogItem | null>();

  constructor(
    private readonly redis: Redis,
    private readonly partition: string,
    readonly blocked: ReadonlySet<string>,
    private readonly where: Constraints,
    /** Business exclusion rules act here too, so rails widen past what they remove. */
    private readonly rules: Pick<BusinessRules, 'exclude'>,
  ) {}

  private passes(rec: CatalogItem | null): boolean {
    return !rec?.deleted && satisfies(rec, this.where) && !(rec && excludedByRules(rec.attributes, this.rules));
  }

  /** The catalogue record looked up for an item (null: none, or not looked up). */
  record(itemId: string): CatalogItem | null {
    return this.catalog.get(itemId) ?? null;
  }

  /** Looks up, in one round trip, the records the first keep() of each pool will need (about 2·need open items each). */
  async prefetch(pools: readonly (readonly ScoredItem[])[], need: number): Promise<void> {
    const chunk = Math.max(32, 2 * need);
    const ids = new Set<string>();
    for (const pool of pools) {
      let taken = 0;
      for (const i of pool) {
        if (taken >= chunk) break;
        if (this.blocked.has(i.itemId)) continue;
        taken++;
        if (!this.catalog.has(i.itemId)) ids.add(i.itemId);
      }
    }
    if (ids.size > 0)
      for (const [id, rec] of await readCatalogItems(this.redis, this.partition, [...ids])) this.catalog.set(id, rec);
  }

  /**
   * The first `need` items that pass, in their order. Catalogue records are looked up in chunks of about 2·need (one
   * Redis round trip each, skipping records already known), so a long pool costs only what is needed to fill k.
   */
  async keep(items: readonly ScoredItem[], need: number): Promise<ScoredItem[]> {
    const open = items.filter((i) => !this.blocked.has(i.itemId));
    const out: ScoredItem[] = [];
    const chunk = Math.max(32, 2 * need);
    for (let start = 0; start < open.length && out.length < need; start += chunk) {
      const slice = open.slice(start, start + chunk);
      const missing = slice.map((i) => i.itemId).filter((id) => !this.catalog.has(id));
      if (missing.length > 0)
        for (const [id, rec] of await readCatalogItems(this.redis, this.partition, missing)) this.catalog.set(id, rec);
      for (const i of slice) {
        if (this.passes(this.catalog.get(i.itemId) ?? null)) out.push(i);
        if (out.length >= need) break;
      }
    }
    return out;
  }
}

/**
 * A rail's first `need` items that pass the exact filters: starts from its first pool of n0 and doubles the pool
 * while too few pass, until the source runs dry or the pool reaches the configured bound (max).
 */
export async function widen(
  max: number,
  need: number,
  filter: ExactFilter,
  fetch: (n: number) => Promise<ScoredItem[]>,
  n0: number,
  firstPool: ScoredItem[],
): Promise<ScoredItem[]> {
  let n = n0;
  let pool = firstPool;
  for (;;) {
    const kept = await filter.keep(pool, need);
    if (kept.length >= need || pool.length < n || n >= max) return kept;
    n = Math.min(max, n * 2);
    pool = await fetch(n);
  }
}
