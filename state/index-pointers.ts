// Which index version each partition serves: a Redis pointer per partition (indexCurrentKey), moved by retcon (and
// benchmarks) and announced on INDEX_CHANNEL, so every reader hot-swaps to it (serving/index-manager.ts). Readers also
// hear the item-vector updates and deletions on ITEM_UPDATES_CHANNEL, which they apply to their live indexes.
import type { Redis } from '../platform/redis.ts';
import type { ItemUpdate } from './content-vectors.ts';
import { INDEX_CHANNEL, ITEM_UPDATES_CHANNEL, indexCurrentKey } from './keys.ts';

export interface IndexAnnouncement {
  partition: string;
  version: string;
}

/** Makes a built version current and tells every reader. */
export async function announceIndex(redis: Redis, a: IndexAnnouncement): Promise<void> {
  await redis.pipeline().set(indexCurrentKey(a.partition), a.version).publish(INDEX_CHANNEL, JSON.stringify(a)).exec();
}

/** The partition's current index version, or null before its first build. */
export function readIndexPointer(redis: Redis, partition: string): Promise<string | null> {
  return redis.get(indexCurrentKey(partition));
}

/** The current index versions of the partitions (same order; null where none), in one round trip. */
export function readIndexPointers(redis: Redis, partitions: readonly string[]): Promise<(string | null)[]> {
  return redis.mget(...partitions.map(indexCurrentKey));
}

/** What a reader hears: a new current index, or item vectors (or deletions) to apply to a live one. */
export interface IndexUpdateHandlers {
  /** A partition's new current index version. */
  onIndex: (a: IndexAnnouncement) => void;
  /** Item vectors re-solved or embedded, or items deleted. */
  onItems: (u: ItemUpdate) => void;
  /** A message that did not parse (or whose handler threw), with its channel. */
  onMalformed: (err: unknown, channel: string, message: string) => void;
}

/** Subscribes a dedicated connection to index announcements and item updates. */
export async function subscribeIndexUpdates(subscriber: Redis, handlers: IndexUpdateHandlers): Promise<void> {
  subscriber.on('message', (channel: string, message: string) => {
    try {
      if (channel === INDEX_CHANNEL) handlers.onIndex(JSON.parse(message) as IndexAnnouncement);
      else if (channel === ITEM_UPDATES_CHANNEL) handlers.onItems(JSON.parse(message) as ItemUpdate);
    } catch (err) {
      handlers.onMalformed(err, channel, message);
    }
  });
  await subscriber.subscribe(INDEX_CHANNEL, ITEM_UPDATES_CHANNEL);
}
