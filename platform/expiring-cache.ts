// A per-key cache of loads that expire after maxAgeMs, for values readers poll from Redis (experiments, ranker
// pointers): concurrent callers share one load, a failed load is forgotten at once so the next call retries, and
// invalidate() makes the next call load afresh (after a write through the same process).
export class ExpiringCache<K, V> {
  private readonly entries = new Map<K, { at: number; value: Promise<V> }>();

  constructor(
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.entries.get(key);
    if (hit && this.now() - hit.at < this.maxAgeMs) return hit.value;
    const entry = { at: this.now(), value: load() };
    entry.value.catch(() => {
      if (this.entries.get(key) === entry) this.entries.delete(key);
    });
    this.entries.set(key, entry);
    return entry.value;
  }

  invalidate(key: K): void {
    this.entries.delete(key);
  }
}
