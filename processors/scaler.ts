// The incremental scaler: a processor that folds every event's numeric features into per-tenant, per-partition
// Welford accumulators in Redis, and a publisher that merges the partitions into a candidate version, measures its
// drift from the current version and promotes it (an immutable, content-addressed artifact) only when the policy says so.
//
// Exactly-once per partition: each accumulator is stored with the offset of the last record folded into it, in the
// same Redis write, and a re-delivered record (offset <= stored) is skipped. Accumulators belong to a generation;
// promoting a version starts the next generation, so each candidate describes the data since the last promotion.
import { canonicalJson } from '../core/canonical-json.ts';
import type { InteractionEvent } from '../core/events.ts';
import { numericFeatures } from '../core/features/numeric-features.ts';
import {
  decidePromotion,
  mergeAccumulators,
  observeAll,
  snapshotOf,
  type PromotionDecision,
  type PromotionPolicy,
  type ScalerAccumulator,
  type ScalerSnapshot,
} from '../core/features/scaler.ts';
import type { ArtifactManifest, ArtifactStore } from '../platform/artifact-store.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';

const key = (tenant: string, what: string) => `rs:{${tenant}}:scaler:${what}`;
export const scalerAccKey = (tenant: string) => key(tenant, 'acc');
export const scalerCurrentKey = (tenant: string) => key(tenant, 'current');
const generationKey = (tenant: string) => key(tenant, 'generation');
const decisionsKey = (tenant: string) => key(tenant, 'decisions');
const lockKey = (tenant: string) => key(tenant, 'publish-lock');
const SCALER_KIND = 'scaler';

interface PartitionAccumulator {
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

export class ScalerProcessor implements BatchProcessor<InteractionEvent> {
  readonly name = 'scaler';
  private lastPublish = Date.now();

  constructor(
    private readonly redis: Redis,
    private readonly publisher: ScalerPublisher,
    private readonly publishIntervalMs: number,
    private readonly logger: Logger,
  ) {}

  async process(records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const byTenant = new Map<string, ConsumedRecord<InteractionEvent>[]>();
    for (const r of records) {
      const list = byTenant.get(r.value.tenant);
      if (list) list.push(r);
      else byTenant.set(r.value.tenant, [r]);
    }
    for (const [tenant, list] of byTenant) await this.fold(tenant, list);
    if (Date.now() - this.lastPublish >= this.publishIntervalMs) {
      this.lastPublish = Date.now();
      for (const tenant of byTenant.keys()) {
        try {
          const { decision, manifest } = await this.publisher.publish(tenant);
          if (decision.promote)
            this.logger.info(
              { tenant, version: manifest?.version, reason: decision.reason, drift: decision.drift?.max },
              'scaler version promoted',
            );
        } catch (err) {
          // publishing is periodic and best-effort: the next interval tries again; folding already succeeded
          this.logger.warn({ err, tenant }, 'scaler publish skipped');
        }
      }
    }
  }

  private async fold(tenant: string, records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const field = `${records[0]!.topic}:${records[0]!.partition}`;
    const results =
      (await this.redis.pipeline().hget(scalerAccKey(tenant), field).get(generationKey(tenant)).exec()) ?? [];
    for (const [err] of results) if (err) throw err;
    const stored = results[0]?.[1] as string | null;
    const generation = results[1]?.[1] as string | null;
    const gen = Number(generation ?? 0);
    const prior = stored ? (JSON.parse(stored) as PartitionAccumulator) : null;
    const state: PartitionAccumulator =
      prior && prior.generation === gen ? prior : { generation: gen, offset: prior?.offset ?? '-1', acc: {} };
    const last = BigInt(state.offset);
    let newest = last;
    for (const r of records) {
      const offset = BigInt(r.offset);
      if (offset <= last) continue; // already folded in before a crash
      observeAll(state.acc, numericFeatures(r.value));
      if (offset > newest) newest = offset;
    }
    if (newest === last) return;
    state.offset = newest.toString();
    await this.redis.hset(scalerAccKey(tenant), field, JSON.stringify(state));
  }
}

export class ScalerPublisher {
  constructor(
    private readonly redis: Redis,
    private readonly store: ArtifactStore,
    private readonly policy: PromotionPolicy,
  ) {}

  /** The candidate: every partition's accumulator of the current generation, merged. */
  async candidate(tenant: string): Promise<{ generation: number; snapshot: ScalerSnapshot }> {
    const [all, generation] = await Promise.all([
      this.redis.hgetall(scalerAccKey(tenant)),
      this.redis.get(generationKey(tenant)),
    ]);
    const gen = Number(generation ?? 0);
    const parts = Object.values(all)
      .map((v) => JSON.parse(v) as PartitionAccumulator)
      .filter((p) => p.generation === gen)
      .map((p) => p.acc);
    return { generation: gen, snapshot: snapshotOf(mergeAccumulators(parts)) };
  }

  async current(tenant: string): Promise<{ version: string; snapshot: ScalerSnapshot } | null> {
    const version = await this.redis.get(scalerCurrentKey(tenant));
    if (!version) return null;
    return { version, snapshot: await loadScaler(this.store, version) };
  }

  /** Evaluates the candidate against the policy; promotes it (artifact + pointer + next generation) when allowed. */
  async publish(
    tenant: string,
    force = false,
  ): Promise<{ decision: PromotionDecision; manifest: ArtifactManifest<ScalerMeta> | null }> {
    // One publisher at a time per tenant (processor instances, the CLI): two promotions would skip a generation.
    const token = `${process.pid}-${Math.random()}`;
    if ((await this.redis.set(lockKey(tenant), token, 'PX', 30_000, 'NX')) !== 'OK')
      throw new Error(`another scaler publish for ${tenant} is running`);
    try {
      return await this.publishLocked(tenant, force);
    } finally {
      if ((await this.redis.get(lockKey(tenant))) === token) await this.redis.del(lockKey(tenant));
    }
  }

  private async publishLocked(
    tenant: string,
    force: boolean,
  ): Promise<{ decision: PromotionDecision; manifest: ArtifactManifest<ScalerMeta> | null }> {
    const { generation, snapshot } = await this.candidate(tenant);
    const current = await this.current(tenant);
    const decision = decidePromotion(current?.snapshot ?? null, snapshot, this.policy, force);
    await this.redis
      .pipeline()
      .lpush(
        decisionsKey(tenant),
        JSON.stringify({
          at: new Date().toISOString(),
          generation,
          ...decision,
          drift: decision.drift ? { ...decision.drift, max: finite(decision.drift.max) } : null,
        }),
      )
      .ltrim(decisionsKey(tenant), 0, 99)
      .exec();
    if (!decision.promote) return { decision, manifest: null };
    const artifact: ScalerArtifact = { tenant, features: snapshot.features };
    const meta: ScalerMeta = {
      tenant,
      samples: decision.samples,
      generation,
      parent: current?.version ?? null,
      decision: decision.reason,
      drift: decision.drift,
      policy: this.policy,
    };
    const manifest = await this.store.put(SCALER_KIND, Buffer.from(canonicalJson(artifact)), 'json', meta);
    await this.redis.pipeline().set(scalerCurrentKey(tenant), manifest.version).incr(generationKey(tenant)).exec();
    return { decision, manifest };
  }

  /** Recent decisions, newest first, for operators. */
  async decisions(tenant: string): Promise<unknown[]> {
    return (await this.redis.lrange(decisionsKey(tenant), 0, -1)).map((d) => JSON.parse(d) as unknown);
  }
}

/** JSON has no Infinity: a drift of features added/removed is reported as null. */
const finite = (x: number) => (Number.isFinite(x) ? x : null);

/** Loads a scaler version by id, checksum-verified: training and serving apply the same bytes. */
export async function loadScaler(store: ArtifactStore, version: string): Promise<ScalerArtifact> {
  const { content } = await store.load(SCALER_KIND, version);
  return JSON.parse(content.toString('utf8')) as ScalerArtifact;
}
