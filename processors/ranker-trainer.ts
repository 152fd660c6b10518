// The ranker trainer: joins impressions with later clicks and conversions by recommendation id within the
// attribution window, in event time, updates the tenant's FTRL click model online (a new version published every
// publishInterval), and appends each labelled impression with its served context to the ranker-example table the
// batch tree ranker trains from. The join state lives in Redis, so it survives restarts (state/ranker-joins.ts).
// An impression becomes a training example once the tenant's event time passes its window; it counts as clicked
// (converted) when the click (conversion) came within the window. Delivery is at-least-once: a re-delivered event
// rewrites the same keys; a crash between learning from an example and removing it may learn from it twice (harmless
// for SGD) and rewrites its example row (collapsed by the table's key). Runs as one instance (it owns the in-memory
// model between publications).
import type { InteractionEvent } from '../core/events.ts';
import { FtrlModel, type Features, type FtrlParams } from '../core/models/ftrl.ts';
import { rankingFeatures, withPosition } from '../core/funnel/ranking-features.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import type { LabelledImpression, RankerExampleLog } from '../state/ranker-examples.ts';
import {
  readDueImpressions,
  recordImpressionJoins,
  removeImpressionJoins,
  type ImpressionOutcome,
  type PendingImpression,
} from '../state/ranker-joins.ts';
import type { RankerStore } from '../state/ranker-models.ts';

export interface RankerTrainerOptions {
  attributionWindowMs: number;
  publishIntervalMs: number;
  params: FtrlParams;
}

export class RankerTrainer implements BatchProcessor<InteractionEvent> {
  readonly name = 'ranker-trainer';
  private readonly models = new Map<string, FtrlModel>();
  private readonly dirty = new Set<string>();
  private lastPublish = Date.now();
  /** Examples learned from by this instance. */
  examples = 0;

  constructor(
    private readonly redis: Redis,
    private readonly store: RankerStore,
    private readonly examplesLog: RankerExampleLog,
    private readonly o: RankerTrainerOptions,
    private readonly logger: Logger,
  ) {}

  async process(records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const attributed = records.map((r) => r.value).filter((e) => e.recommendationId !== null);
    const latest = new Map<string, number>();
    for (const r of records) latest.set(r.value.tenant, Math.max(latest.get(r.value.tenant) ?? 0, r.value.timestamp));
    if (attributed.length > 0) await this.record(attributed);
    for (const [tenant, now] of latest) await this.learnDue(tenant, now);
    if (Date.now() - this.lastPublish >= this.o.publishIntervalMs) await this.publish();
  }

  /** Impressions wait for their window (with the features they were served with); clicks and conversions mark them. */
  private async record(events: InteractionEvent[]): Promise<void> {
    const impressions = events.filter(
      (e): e is Extract<InteractionEvent, { type: 'impression' }> => e.type === 'impression',
    );
    // one read per recommendation, however many of its items were shown
    const recs = [
      ...new Map(
        impressions.map((e) => [
          `${e.tenant}/${e.recommendationId}`,
          { tenant: e.tenant, recommendationId: e.recommendationId },
        ]),
      ).values(),
    ];
    const logged = new Map(
      (await this.store.served(recs)).map((ctx, i) => [`${recs[i]!.tenant}/${recs[i]!.recommendationId}`, ctx]),
    );
    const pending: PendingImpression[] = [];
    for (const e of impressions) {
      const context = logged.get(`${e.tenant}/${e.recommendationId}`)?.[e.itemId];
      if (!context) continue; // not one of our feeds' items (or its log expired): nothing to learn from
      pending.push({
        tenant: e.tenant,
        recommendationId: e.recommendationId,
        itemId: e.itemId,
        context,
        position: e.position,
        userId: e.userId,
        timestamp: e.timestamp,
      });
    }
    const outcomes: ImpressionOutcome[] = [];
    for (const e of events) {
      if (e.type !== 'click' && e.type !== 'conversion') continue;
      outcomes.push({
        tenant: e.tenant,
        recommendationId: e.recommendationId!,
        itemId: e.itemId,
        type: e.type,
        timestamp: e.timestamp,
      });
    }
    await recordImpressionJoins(this.redis, pending, outcomes, this.o.attributionWindowMs);
  }

  private async model(tenant: string): Promise<FtrlModel> {
    let m = this.models.get(tenant);
    if (!m) {
      // warm start from the last published version, so a restart continues rather than forgets
      m = (await this.store.currentFtrl(tenant)) ?? new FtrlModel(this.o.params);
      m = FtrlModel.fromSnapshot(m.toSnapshot());
      this.models.set(tenant, m);
    }
    return m;
  }

  /** Learns from every impression whose window closed by the tenant's event time `now`, and records it as an example. */
  private async learnDue(tenant: string, now: number): Promise<void> {
    for (;;) {
      const due = await readDueImpressions(this.redis, tenant, now, 1000);
      if (due.length === 0) return;
      const examples: { features: Features; clicked: boolean }[] = [];
      const rows: LabelledImpression[] = [];
      for (const d of due) {
        const imp = d.impression;
        if (!imp) continue; // expired, or the impression never reached us
        const inWindow = (at: string | null) => at !== null && Number(at) <= imp.shownAtMs + this.o.attributionWindowMs;
        const clicked = inWindow(d.clickedAt);
        const converted = inWindow(d.convertedAt);
        examples.push({
          features: withPosition(rankingFeatures(imp.context), imp.position),
          clicked: clicked || converted,
        });
        rows.push({
          tenant,
          recommendationId: d.recommendationId,
          itemId: d.itemId,
          userId: imp.userId,
          impressionMs: imp.shownAtMs,
          position: imp.position,
          context: imp.context,
          clicked,
          converted,
        });
      }
      // the example table first: if it fails, the batch is retried and nothing is lost
      await this.examplesLog.append(rows);
      const model = await this.model(tenant);
      for (const e of examples) model.update(e.features, e.clicked ? 1 : 0);
      this.examples += examples.length;
      this.dirty.add(tenant);
      await removeImpressionJoins(this.redis, tenant, due);
    }
  }

  /** Publishes every tenant's model that learned since the last publication. */
  async publish(): Promise<void> {
    this.lastPublish = Date.now();
    for (const tenant of [...this.dirty]) {
      const version = await this.store.publish(tenant, this.models.get(tenant)!);
      this.dirty.delete(tenant);
      this.logger.info({ tenant, version, examples: this.examples }, 'published a ranker version');
    }
  }
}
