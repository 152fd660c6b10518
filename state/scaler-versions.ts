// The incremental scaler's state (processors/scaler.ts computes, this stores): per-tenant, per-partition Welford
// accumulators in Redis, each with the offset of the last record folded into it (exactly-once per partition) and the
// generation it belongs to; promoted versions as immutable, content-addressed artifacts with the tenant's current
// version as a pointer; the recent promotion decisions; and a lock so one publisher at a time promotes. Keys:
// state/keys.ts.
import { canonicalJson } from '../core/canonical-json.ts';
import type { PromotionDecision, PromotionPolicy, ScalerAccumulator, ScalerSnapshot } from '../core/features/scaler.ts';
import type { ArtifactManifest, ArtifactStore } from '../platform/artifact-store.ts';
import type { Redis } from '../platform/redis.ts';
import {
  scalerAccKey,
  scalerCurrentKey,
  scalerDecisionsKey,
  scalerGenerationKey,
  scalerPublishLockKey,
} from './keys.ts';

export const SCALER_KIND = 'scaler';

export interface PartitionAccumulator {
  generation: number;
  /** Offset of the last record folded in (string: Kafka offsets are 64-bit). */
  offset: string;
  acc: ScalerAccumulator;
}

export interface ScalerArtifact extends ScalerSnapshot {
  tenant: string;
}

export interface ScalerMeta {
  tenant: string;
  samples: number;
  generation: number;
  parent: string | null;
  decision: PromotionDecision['reason'];
  drift: PromotionDecision['drift'];
  policy: PromotionPolicy;
}

/** A partition's stored accumulator (null before its first record) and the tenant's current generation. */
export async function readPartitionAccumulator(
  redis: Redis,
  tenant: string,
  field: string,
): Promise<{ stored: PartitionAccumulator | null; generation: number }> {
  const results =
    (await redis.pipeline().hget(scalerAccKey(tenant), field).get(scalerGenerationKey(tenant)).exec()) ?? [];
  for (const [err] of results) if (err) throw err;
  const stored = results[0]?.[1] as string | null;
  const generation = results[1]?.[1] as string | null;
  return {
    stored: stored ? (JSON.parse(stored) as PartitionAccumulator) : null,
    generation: Number(generation ?? 0),
  };
}

export async function writePartitionAccumulator(
  redis: Redis,
  tenant: string,
  field: string,
  state: PartitionAccumulator,
): Promise<void> {
  await redis.hset(scalerAccKey(tenant), field, JSON.stringify(state));
}

/** The accumulators of the tenant's current generation (partitions of older generations left out). */
export async function readGenerationAccumulators(
  redis: Redis,
  tenant: string,
): Promise<{ generation: number; accumulators: ScalerAccumulator[] }> {
  const [all, generation] = await Promise.all([
    redis.hgetall(scalerAccKey(tenant)),
    redis.get(scalerGenerationKey(tenant)),
  ]);
  const gen = Number(generation ?? 0);
  const accumulators = Object.values(all)
    .map((v) => JSON.parse(v) as PartitionAccumulator)
    .filter((p) => p.generation === gen)
    .map((p) => p.acc);
  return { generation: gen, accumulators };
}

/** The tenant's current scaler version, or null before its first promotion. */
export function currentScalerVersion(redis: Redis, tenant: string): Promise<string | null> {
  return redis.get(scalerCurrentKey(tenant));
}

/** Loads a scaler version by id, checksum-verified: training and serving apply the same bytes. */
export async function loadScaler(store: ArtifactStore, version: string): Promise<ScalerArtifact> {
  const { content } = await store.load(SCALER_KIND, version);
  return JSON.parse(content.toString('utf8')) as ScalerArtifact;
}

/** The tenant's current scaler version with its statistics, or null before its first promotion. */
export async function currentScaler(
  redis: Redis,
  store: ArtifactStore,
  tenant: string,
): Promise<{ version: string; snapshot: ScalerArtifact } | null> {
  const version = await currentScalerVersion(redis, tenant);
  return version ? { version, snapshot: await loadScaler(store, version) } : null;
}

/**
 * Runs `fn` holding the tenant's publish lock (SET NX, 30 s): two promotions at once would skip a generation. Throws
 * when another publisher holds it.
 */
export async function withScalerPublishLock<T>(redis: Redis, tenant: string, fn: () => Promise<T>): Promise<T> {
  const token = `${process.pid}-${Math.random()}`;
  if ((await redis.set(scalerPublishLockKey(tenant), token, 'PX', 30_000, 'NX')) !== 'OK')
    throw new Error(`another scaler publish for ${tenant} is running`);
  try {
    return await fn();
  } finally {
    if ((await redis.get(scalerPublishLockKey(tenant))) === token) await redis.del(scalerPublishLockKey(tenant));
  }
}

/** Records a promotion decision (the newest 100 are kept). */
export async function recordScalerDecision(redis: Redis, tenant: string, decision: unknown): Promise<void> {
  await redis
    .pipeline()
    .lpush(scalerDecisionsKey(tenant), JSON.stringify(decision))
    .ltrim(scalerDecisionsKey(tenant), 0, 99)
    .exec();
}

/** Recent decisions, newest first. */
export async function scalerDecisions(redis: Redis, tenant: string): Promise<unknown[]> {
  return (await redis.lrange(scalerDecisionsKey(tenant), 0, -1)).map((d) => JSON.parse(d) as unknown);
}

/** Stores a version (artifact), makes it the tenant's current one and starts the next accumulator generation. */
export async function promoteScaler(
  redis: Redis,
  store: ArtifactStore,
  artifact: ScalerArtifact,
  meta: ScalerMeta,
): Promise<ArtifactManifest<ScalerMeta>> {
  const manifest = await store.put(SCALER_KIND, Buffer.from(canonicalJson(artifact)), 'json', meta);
  await redis
    .pipeline()
    .set(scalerCurrentKey(artifact.tenant), manifest.version)
    .incr(scalerGenerationKey(artifact.tenant))
    .exec();
  return manifest;
}
