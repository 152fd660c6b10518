// Which index version each partition serves, and the hot swap. The current version of a partition is a Redis pointer,
// and a new one is announced to every reader (state/index-pointers.ts). The reader loads an announced
// snapshot in the background, checks it (checksums, counts), and only then swaps it in: queries in flight or arriving
// meanwhile use the old one, so none is dropped; a snapshot that fails its checks is refused and the old one keeps
// serving. Queries never wait for a load: a partition whose index is still loading is served without one. At start a
// reader loads every partition's current index (warm) and reports ready only then.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import { readIndexPointer, readIndexPointers, subscribeIndexUpdates } from '../state/index-pointers.ts';
import { LoadedIndex, partitionDir } from '../state/index-snapshots.ts';

/** Fetches the current vectors of items in a tenant's model version: fold-in's overrides ('als') or content embeddings. */
export type ItemVectorSource = (
  tenant: string,
  version: string,
  items: string[],
  source: 'als' | 'content',
) => Promise<Map<string, Float64Array>>;

/** How often a partition without a loaded index re-reads its pointer (in case an announcement was missed). */
const LOOKUP_RETRY_MS = 30_000;

export class IndexManager {
  private readonly serving = new Map<string, LoadedIndex>();
  /** When each partition's pointer was last read: announcements drive swaps, so this is only a safety net. */
  private readonly lookedUp = new Map<string, number>();
  /** Versions refused (bad snapshot), so a repeated announcement is not retried in a loop. */
  private readonly refused = new Set<string>();
  /** The latest swap requested per partition: a slower load of an older request must not replace a newer one. */
  private readonly requested = new Map<string, { version: string; loading: Promise<void> | null }>();
  private warming: { total: number; done: number; error: string | null; finished: boolean } | null = null;
  swaps = 0;
  rejections = 0;
  upserts = 0;
  deletions = 0;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly root: string,
    private readonly logger: Logger,
    /** With a source, item vectors that fold-in re-solves are upserted into the live index of their partition. */
    private readonly itemVectors: ItemVectorSource | null = null,
  ) {}

  async start(): Promise<void> {
    await subscribeIndexUpdates(this.subscriber, {
      onIndex: (a) => void this.swapTo(a.partition, a.version),
      onItems: (u) => {
        if ('deleted' in u) this.markDeleted(u.tenant, u.deleted);
        else void this.upsert(u.tenant, u.version, u.items, u.source ?? 'als');
      },
      onMalformed: (err, channel, message) =>
        this.logger.warn({ err, channel, message }, 'ignoring a malformed announcement'),
    });
  }

  /**
   * The partition's loaded index, or null when none is loaded yet. Then its current version is loaded in the
   * background, reading the pointer at most every LOOKUP_RETRY_MS, so a partition without an index costs the hot path
   * no Redis call per request; a new version arrives by announcement anyway.
   */
  get(partition: string): LoadedIndex | null {
    const index = this.serving.get(partition);
    if (index) return index;
    const now = Date.now();
    if (now - (this.lookedUp.get(partition) ?? 0) >= LOOKUP_RETRY_MS) {
      this.lookedUp.set(partition, now);
      void readIndexPointer(this.redis, partition).then(
        (version) => (version ? this.swapTo(partition, version) : undefined),
        (err: unknown) => this.logger.warn({ err, partition }, 'reading the index pointer failed'),
      );
    }
    return null;
  }

  /** Loads and checks a version, then swaps it in; on failure the current index stays. */
  swapTo(partition: string, version: string): Promise<void> {
    if (this.refused.has(`${partition}/${version}`)) return Promise.resolve();
    const latest = this.requested.get(partition);
    if (latest?.version === version && latest.loading) return latest.loading; // the same version is already loading
    // a request supersedes older ones still loading, also a rollback to the version serving now (a no-op otherwise)
    const request = { version, loading: null as Promise<void> | null };
    this.requested.set(partition, request);
    if (this.serving.get(partition)?.manifest.version === version) return Promise.resolve();
    request.loading = this.load(partition, version, () => this.requested.get(partition) === request).finally(() => {
      request.loading = null;
    });
    return request.loading;
  }

  private async load(partition: string, version: string, stillWanted: () => boolean): Promise<void> {
    try {
      const next = await LoadedIndex.load(this.root, partition, version);
      if (!stillWanted()) {
        this.logger.info({ partition, version }, 'index load superseded by a newer announcement; not swapping it in');
        return;
      }
      this.serving.set(partition, next); // atomic for queries: they read the map once per request
      this.swaps++;
      this.logger.info({ partition, version, count: next.manifest.count }, 'index swapped in');
    } catch (err) {
      this.refused.add(`${partition}/${version}`);
      this.rejections++;
      this.logger.error(
        { err, partition, version, keeping: this.serving.get(partition)?.manifest.version ?? null },
        'index snapshot refused',
      );
    }
  }

  /** Items removed from the catalogue leave the live index at once (the next retcon leaves them out for good). */
  private markDeleted(partition: string, items: string[]): void {
    const index = this.serving.get(partition);
    if (!index) return;
    for (const item of items) if (index.markDelete(item)) this.deletions++;
  }

  /** Upserts updated items into the partition's live index, if it was built from that model version. */
  private async upsert(partition: string, version: string, items: string[], source: 'als' | 'content'): Promise<void> {
    const index = this.serving.get(partition);
    if (!index || !this.itemVectors || index.manifest.sources.als !== version) return;
    try {
      for (const [item, vector] of await this.itemVectors(partition, version, items, source)) {
        // the index may have been swapped meanwhile: upsert into the one serving now, if it is still this version's
        const current = this.serving.get(partition);
        if (current?.manifest.sources.als !== version) return;
        // a content embedding is for items the index lacks; one it has keeps its (collaborative or blended) vector
        if (source === 'content' && current.has(item)) continue;
        current.upsert(item, vector);
        this.upserts++;
      }
    } catch (err) {
      this.logger.warn(
        { err, partition },
        'item upsert into the live index failed; the next retcon includes the items',
      );
    }
  }

  /**
   * Loads the current index of each partition (one at a time, bounding memory spikes) so a new reader serves from its
   * indexes from its first request instead of scoring exactly. Readiness waits for it (warmStatus). A partition
   * without a pointer has nothing to load; a snapshot that fails its checks is refused as on a swap.
   */
  async warm(partitions: readonly string[]): Promise<void> {
    const state = { total: partitions.length, done: 0, error: null as string | null, finished: false };
    this.warming = state;
    try {
      const versions = partitions.length > 0 ? await readIndexPointers(this.redis, partitions) : [];
      const missing: string[] = [];
      for (const [i, partition] of partitions.entries()) {
        const version = versions[i];
        // a pointer to a snapshot this reader cannot see: one warning for all of them, not an error each
        if (version && !this.hasSnapshot(partition, version)) missing.push(`${partition}/${version}`);
        else if (version) await this.swapTo(partition, version);
        this.lookedUp.set(partition, Date.now());
        state.done++;
      }
      if (missing.length > 0)
        this.logger.warn(
          { missing: missing.slice(0, 20), count: missing.length, root: this.root },
          'current index pointers name snapshots missing from the artifacts directory (is it shared with the retcon worker?)',
        );
    } catch (err) {
      state.error = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      state.finished = true;
    }
  }

  private hasSnapshot(partition: string, version: string): boolean {
    try {
      return existsSync(join(partitionDir(this.root, partition), version));
    } catch {
      return false; // not a valid partition name: no snapshot can exist for it
    }
  }

  /** Progress of the last warm(): null before one started. */
  warmStatus(): { total: number; done: number; error: string | null; finished: boolean } | null {
    return this.warming ? { ...this.warming } : null;
  }

  /** The index each partition serves now (for metrics). */
  loaded(): { partition: string; version: string; count: number; builtAt: string }[] {
    return [...this.serving].map(([partition, index]) => ({
      partition,
      version: index.manifest.version,
      count: index.manifest.count,
      builtAt: index.manifest.builtAt,
    }));
  }

  async stop(): Promise<void> {
    await this.subscriber.unsubscribe();
    this.subscriber.disconnect();
  }
}
