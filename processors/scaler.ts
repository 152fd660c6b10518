// The incremental scaler: a processor that folds every event's numeric features into per-tenant, per-partition
// Welford accumulators in Redis, and a publisher that merges the partitions into a candidate version, measures its
// drift from the current version and promotes it (an immutable, content-addressed artifact) only when the policy says so.
//
// Exactly-once per partition: each accumulator is stored with the offset of the last record folded into it, in the
// same Redis write, and a re-delivered record (offset <= stored) is skipped. Accumulators belong to a generation;
// promoting a version starts the next generation, so each candidate describes the data since the last promotion.
// The stored side (accumulators, versions, pointer, decisions, lock) is state/scaler-versions.ts.
import type { InteractionEvent } from '../core/events.ts';
import { numericFeatures } from '../core/features/numeric-features.ts';
import {
  decidePromotion,
  mergeAccumulators,
  observeAll,
  snapshotOf,
  type PromotionDecision,
  type PromotionPolicy,
  type ScalerSnapshot,
} from '../core/features/scaler.ts';
import type { ArtifactManifest, ArtifactStore } from '../platform/artifact-store.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import {
  currentScaler,
  promoteScaler,
  readGenerationAccumulators,
  readPartitionAccumulator,
  recordScalerDecision,
  scalerDecisions,
  withScalerPublishLock,
  writePartitionAccumulator,
  type PartitionAccumulator,
  type ScalerArtifact,
  type ScalerMeta,
} from '../state/scaler-versions.ts';

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
    const { stored: prior, generation: gen } = await readPartitionAccumulator(this.redis, tenant, field);
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
    await writePartitionAccumulator(this.redis, tenant, field, state);
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
    const { generation, accumulators } = await readGenerationAccumulators(this.redis, tenant);
    return { generation, snapshot: snapshotOf(mergeAccumulators(accumulators)) };
  }

  /** The current version with its statistics, or null before the tenant's first promotion. */
  current(tenant: string): Promise<{ version: string; snapshot: ScalerSnapshot } | null> {
    return currentScaler(this.redis, this.store, tenant);
  }

  /** Evaluates the candidate against the policy; promotes it (artifact + pointer + next generation) when allowed. */
  async publish(
    tenant: string,
    force = false,
  ): Promise<{ decision: PromotionDecision; manifest: ArtifactManifest<ScalerMeta> | null }> {
    // One publisher at a time per tenant (processor instances, the CLI): two promotions would skip a generation.
    return withScalerPublishLock(this.redis, tenant, () => this.publishLocked(tenant, force));
  }

  private async publishLocked(
    tenant: string,
    force: boolean,
  ): Promise<{ decision: PromotionDecision; manifest: ArtifactManifest<ScalerMeta> | null }> {
    const { generation, snapshot } = await this.candidate(tenant);
    const current = await this.current(tenant);
    const decision = decidePromotion(current?.snapshot ?? null, snapshot, this.policy, force);
    await recordScalerDecision(this.redis, tenant, {
      at: new Date().toISOString(),
      generation,
      ...decision,
      drift: decision.drift ? { ...decision.drift, max: finite(decision.drift.max) } : null,
    });
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
    const manifest = await promoteScaler(this.redis, this.store, artifact, meta);
    return { decision, manifest };
  }

  /** Recent decisions, newest first, for operators. */
  decisions(tenant: string): Promise<unknown[]> {
    return scalerDecisions(this.redis, tenant);
  }
}

/** JSON has no Infinity: a drift of features added/removed is reported as null. */
const finite = (x: number) => (Number.isFinite(x) ? x : null);
