// Consumer lag and topic sizes from broker offsets: how the demo and tests know a processor has caught up.
import type { Admin } from 'kafkajs';

/** Sum over partitions of the high-water marks (messages ever written, for a topic without compaction). */
export async function topicEndOffsetTotal(admin: Admin, topic: string): Promise<bigint> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + BigInt(p.high), 0n);
}

export interface PartitionLag {
  partition: number;
  high: bigint;
  /** The group's committed offset (the next record it will read), or null when it has committed none. */
  committed: bigint | null;
  lag: bigint;
}

/**
 * Lag per partition from the topic's offsets (admin.fetchTopicOffsets: high watermark, low mark) and the group's
 * committed offsets (admin.fetchOffsets: '-1' where none): high − committed. A partition the group never committed
 * counts from its low mark (consumers start from the beginning), and so does one whose committed offset retention
 * has already passed. Never negative.
 */
export function partitionLags(
  ends: readonly { partition: number; high: string; low: string }[],
  committed: readonly { partition: number; offset: string }[],
): PartitionLag[] {
  const byPartition = new Map(committed.map((p) => [p.partition, BigInt(p.offset)]));
  return ends
    .map((p) => {
      const high = BigInt(p.high);
      const low = BigInt(p.low);
      const c = byPartition.get(p.partition) ?? -1n;
      const from = c < 0n ? low : c < low ? low : c;
      const lag = high > from ? high - from : 0n;
      return { partition: p.partition, high, committed: c < 0n ? null : c, lag };
    })
    .sort((a, b) => a.partition - b.partition);
}

/** Lag of a group on a topic, per partition. */
export async function fetchPartitionLags(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  return partitionLags(ends, committed.find((t) => t.topic === topic)?.partitions ?? []);
}

/** Messages on the topic not yet committed by the group (uncommitted partitions count from their low mark). */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<bigint> {
  return (await fetchPartitionLags(admin, groupId, topic)).reduce((sum, p) => sum + p.lag, 0n);
}

/** Polls until every group has no lag on the topic, or throws after the timeout naming the laggards. */
export async function waitForCaughtUp(
  admin: Admin,
  groupIds: string[],
  topic: string,
  timeoutMs: number,
  pollMs = 250,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lags = await Promise.all(groupIds.map(async (g) => [g, await consumerLag(admin, g, topic)] as const));
    const behind = lags.filter(([, lag]) => lag > 0n);
    if (behind.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `consumers still behind on ${topic} after ${timeoutMs} ms: ${behind.map(([g, l]) => `${g}=${l}`).join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
