// Consumer lag and topic sizes from broker offsets: how the demo and tests know a processor has caught up.
import type { Admin } from 'kafkajs';

/** Sum over partitions of the high-water marks (messages ever written, for a topic without compaction). */
export async function topicEndOffsetTotal(admin: Admin, topic: string): Promise<bigint> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.reduce((sum, p) => sum + BigInt(p.high), 0n);
}

/** Messages on the topic not yet committed by the group (uncommitted partitions count from their low mark). */
export async function consumerLag(admin: Admin, groupId: string, topic: string): Promise<bigint> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
  let lag = 0n;
  for (const p of ends) {
    const c = byPartition.get(p.partition) ?? -1n;
    lag += BigInt(p.high) - (c < 0n ? BigInt(p.low) : c);
  }
  return lag;
}

/** Polls until every group has no lag on the topic, or throws after the timeout naming the laggards. */
export async function waitForCaughtUp(admin: Admin, groupIds: string[], topic: string, timeoutMs: number, pollMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lags = await Promise.all(groupIds.map(async (g) => [g, await consumerLag(admin, g, topic)] as const));
    const behind = lags.filter(([, lag]) => lag > 0n);
    if (behind.length === 0) return;
    if (Date.now() > deadline) throw new Error(`consumers still behind on ${topic} after ${timeoutMs} ms: ${behind.map(([g, l]) => `${g}=${l}`).join(', ')}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
