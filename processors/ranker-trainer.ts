// The ranker trainer: joins impressions with later clicks (or conversions) by recommendation id within the
// attribution window, in event time, and updates the tenant's FTRL click model online; a new model version is
// published every publishInterval. The join state lives in Redis, so it survives restarts:
//   rs:{t}:ranker:imp:<rec>|<item>   the impression's served features and slot (until its window closes)
//   rs:{t}:ranker:clk:<rec>|<item>   a click or conversion was seen for it
//   rs:{t}:ranker:due                impressions by the event time their window closes
// An impression becomes a training example (label: clicked within the window) once the tenant's event time passes its
// window. Delivery is at-least-once: a re-delivered event rewrites the same keys; a crash between learning from an
// example and removing it may learn from it twice (harmless for SGD). Runs as one instance (it owns the in-memory
// model between publications).
import type { InteractionEvent } from '../core/events.ts';
import { FtrlModel, type Features, type FtrlParams } from '../core/models/ftrl.ts';
import { rankingFeatures, withPosition } from '../core/ranking-features.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import type { RankerStore } from './ranker-store.ts';

const impKey = (tenant: string, key: string) => `rs:{${tenant}}:ranker:imp:${key}`;
const clkKey = (tenant: string, key: string) => `rs:{${tenant}}:ranker:clk:${key}`;
const dueKey = (tenant: string) => `rs:{${tenant}}:ranker:due`;

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
    const impressions = events.filter((e): e is Extract<InteractionEvent, { type: 'impression' }> => e.type === 'impression');
    // one read per recommendation, however many of its items were shown
    const recs = [...new Map(impressions.map((e) => [`${e.tenant}/${e.recommendationId}`, { tenant: e.tenant, recommendationId: e.recommendationId }])).values()];
    const logged = new Map((await this.store.served(recs)).map((ctx, i) => [`${recs[i]!.tenant}/${recs[i]!.recommendationId}`, ctx]));
    const pipe = this.redis.pipeline();
    const ttlS = Math.ceil((2 * this.o.attributionWindowMs) / 1000) + 3600;
    for (const e of impressions) {
      const context = logged.get(`${e.tenant}/${e.recommendationId}`)?.[e.itemId];
      if (!context) continue; // not one of our feeds' items (or its log expired): nothing to learn from
      const features = JSON.stringify(rankingFeatures(context));
      const key = `${e.recommendationId}|${e.itemId}`;
      pipe.hset(impKey(e.tenant, key), 'f', features, 'pos', String(e.position)).expire(impKey(e.tenant, key), ttlS);
      pipe.zadd(dueKey(e.tenant), e.timestamp + this.o.attributionWindowMs, key);
    }
    for (const e of events) {
      if (e.type !== 'click' && e.type !== 'conversion') continue;
      pipe.set(clkKey(e.tenant, `${e.recommendationId}|${e.itemId}`), '1', 'EX', ttlS);
    }
    if (pipe.length > 0) for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
  }

  private async model(tenant: string): Promise<FtrlModel> {
    let m = this.models.get(tenant);
    if (!m) {
      // warm start from the last published version, so a restart continues rather than forgets
      m = (await this.store.current(tenant))?.model ?? new FtrlModel(this.o.params);
      m = FtrlModel.fromSnapshot(m.toSnapshot());
      this.models.set(tenant, m);
    }
    return m;
  }

  /** Learns from every impression whose window closed by the tenant's event time `now`. */
  private async learnDue(tenant: string, now: number): Promise<void> {
    for (;;) {
      const keys = await this.redis.zrangebyscore(dueKey(tenant), '-inf', String(now), 'LIMIT', 0, 1000);
      if (keys.length === 0) return;
      const pipe = this.redis.pipeline();
      for (const key of keys) pipe.hgetall(impKey(tenant, key)).exists(clkKey(tenant, key));
      const res = (await pipe.exec()) ?? [];
      const model = await this.model(tenant);
      keys.forEach((_key, i) => {
        const imp = res[2 * i]?.[1] as Record<string, string> | undefined;
        const clicked = res[2 * i + 1]?.[1] === 1;
        if (!imp?.f) return;
        model.update(withPosition(JSON.parse(imp.f) as Features, Number(imp.pos)), clicked ? 1 : 0);
        this.examples++;
      });
      this.dirty.add(tenant);
      const done = this.redis.pipeline().zrem(dueKey(tenant), ...keys);
      for (const key of keys) done.del(impKey(tenant, key), clkKey(tenant, key));
      await done.exec();
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
