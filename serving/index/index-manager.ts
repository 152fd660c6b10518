// Which index version each partition serves, and the hot swap. The current version of a partition is a Redis pointer
// (rs:{partition}:index:current); a new one is announced on the rs:index channel. The reader loads an announced
// snapshot in the background, checks it (checksums, counts), and only then swaps it in: queries in flight or arriving
// meanwhile use the old one, so none is dropped; a snapshot that fails its checks is refused and the old one keeps
// serving. Queries never wait for a load: a partition whose index is still loading is served without one.
import type { Logger } from '../../platform/logger.ts';
import type { Redis } from '../../platform/redis.ts';
import { ITEM_UPDATES_CHANNEL } from '../../processors/als-model-store.ts';
import type { ItemUpdate } from '../../processors/content-vectors.ts';
import { LoadedIndex } from './index-snapshot.ts';

export const INDEX_CHANNEL = 'rs:index';
export const indexCurrentKey = (partition: string) => `rs:{${partition}}:index:current`;

export interface IndexAnnouncement {
  partition: string;
  version: string;
}

/** Makes a built version current and tells every reader. */
export async function announceIndex(redis: Redis, a: IndexAnnouncement): Promise<void> {
  await redis.pipeline().set(indexCurrentKey(a.partition), a.version).publish(INDEX_CHANNEL, JSON.stringify(a)).exec();
}

/** Fetches the current vectors of items in a tenant's model version: fold-in's overrides ('als') or content embeddings. */
export type ItemVectorSource = (tenant: string, version: string, items: string[], source: 'als' | 'content') => Promise<Map<string, Float64Array>>;

/** How often a partition without a loaded index re-reads its pointer (in case an announcement was missed). */
const LOOKUP_RETRY_MS = 30_000;

export class IndexManager {
  private readonly serving = new Map<string, LoadedIndex>();
  /** When each partition's pointer was last read: announcements drive swaps, so this is only a safety net. */
  private readonly lookedUp = new Map<string, number>();
  /** Versions refused (bad snapshot), so a repeated announcement is not retried in a loop. */
  private readonly refused = new Set<string>();
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
    this.subscriber.on('message', (channel: string, message: string) => {
      try {
        if (channel === INDEX_CHANNEL) {
          const a = JSON.parse(message) as IndexAnnouncement;
          void this.swapTo(a.partition, a.version);
        } else if (channel === ITEM_UPDATES_CHANNEL) {
          const u = JSON.parse(message) as ItemUpdate;
          if ('deleted' in u) this.markDeleted(u.tenant, u.deleted);
          else void this.upsert(u.tenant, u.version, u.items, u.source ?? 'als');
        }
      } catch (err) {
        this.logger.warn({ err, channel, message }, 'ignoring a malformed announcement');
      }
    });
    await this.subscriber.subscribe(INDEX_CHANNEL, ITEM_UPDATES_CHANNEL);
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
      void this.redis.get(indexCurrentKey(partition)).then(
        (version) => (version ? this.swapTo(partition, version) : undefined),
        (err: unknown) => this.logger.warn({ err, partition }, 'reading the index pointer failed'),
      );
    }
    return null;
  }

  /** Loads and checks a version, then swaps it in; on failure the current index stays. */
  async swapTo(partition: string, version: string): Promise<void> {
    if (this.serving.get(partition)?.manifest.version === version || this.refused.has(`${partition}/${version}`)) return;
    try {
      const next = await LoadedIndex.load(this.root, partition, version);
      this.serving.set(partition, next); // atomic for queries: they read the map once per request
      this.swaps++;
      this.logger.info({ partition, version, count: next.manifest.count }, 'index swapped in');
    } catch (err) {
      this.refused.add(`${partition}/${version}`);
      this.rejections++;
      this.logger.error({ err, partition, version, keeping: this.serving.get(partition)?.manifest.version ?? null }, 'index snapshot refused');
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
      this.logger.warn({ err, partition }, 'item upsert into the live index failed; the next retcon includes the items');
    }
  }

  async stop(): Promise<void> {
    await this.subscriber.unsubscribe();
    this.subscriber.disconnect();
  }
}
