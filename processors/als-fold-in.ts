// Streaming ALS fold-in, per batch: each event adds its weight to the user's and the item's interaction histories
// (once per event id). Then, with the current version: the batch's users are re-solved exactly from their histories
// (item factors fixed), its items from theirs (user factors fixed; new items get their first vector here), and its
// users once more with the updated items. Vectors are written under the version (items as overrides of the trained
// artifact). Re-solving from histories, never updating incrementally, makes every vector a function of the events, so
// re-delivery cannot skew it. The offline protocol (core/eval/protocol.ts) evaluates exactly this scheme. The histories
// live in state/als-histories.ts, the model versions and vectors in state/als-models.ts.
import type { InteractionEvent } from '../core/events.ts';
import { foldInItem, foldInUser } from '../core/models/als.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { applyAlsHistories, readAlsHistories, trimAlsHistories } from '../state/als-histories.ts';
import type { AlsModelStore, LoadedAls } from '../state/als-models.ts';

export interface FoldInOptions {
  weights: Record<InteractionEvent['type'], number>;
  historyMaxItems: number;
  historyTtlS: number;
  dedupeTtlS: number;
}

export class AlsFoldInProcessor implements BatchProcessor<InteractionEvent> {
  readonly name = 'als-fold-in';
  /** Fold-in compute per event of the last batches (both passes and the item pass), seconds, for the benchmark. */
  readonly solveSeconds: number[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly models: AlsModelStore,
    private readonly options: FoldInOptions,
  ) {}

  async process(records: ConsumedRecord<InteractionEvent>[]): Promise<void> {
    const byTenant = new Map<string, InteractionEvent[]>();
    for (const { value: e } of records) {
      if (this.options.weights[e.type] === 0) continue;
      const list = byTenant.get(e.tenant);
      if (list) list.push(e);
      else byTenant.set(e.tenant, [e]);
    }
    for (const [tenant, events] of byTenant) {
      const { users, items } = await applyAlsHistories(
        this.redis,
        tenant,
        events.map((e) => ({
          eventId: e.eventId,
          userId: e.userId,
          itemId: e.itemId,
          weight: this.options.weights[e.type],
        })),
        this.options.historyTtlS,
        this.options.dedupeTtlS,
      );
      // Before the tenant's first training there is no model to fold into; the histories still accrue.
      const model = await this.models.current(tenant);
      if (model && users.length > 0) {
        const started = performance.now();
        const firstPass = await this.refresh(tenant, model, users);
        await this.refreshItems(tenant, model, items, firstPass);
        await this.refresh(tenant, model, users);
        this.solveSeconds.push((performance.now() - started) / 1000 / events.length);
        if (this.solveSeconds.length > 10_000) this.solveSeconds.splice(0, this.solveSeconds.length - 10_000);
      }
    }
  }

  /** Re-solves the items' vectors from their histories with the user factors fixed (fresh ones from this batch first). */
  async refreshItems(
    tenant: string,
    model: LoadedAls,
    items: string[],
    fresh: Map<string, Float64Array>,
  ): Promise<void> {
    const kept = (await readAlsHistories(this.redis, tenant, 'item', items)).map((raw) => this.bounded(raw));
    const needed = new Set<string>();
    for (const { kept: rows } of kept) for (const [user] of rows) if (!fresh.has(user)) needed.add(user);
    const stored = await this.models.userVectors(tenant, model.version, [...needed]);
    const userGram = await this.models.userGram(model);
    const f = model.factors;
    const vectors = new Map<string, Float64Array>();
    const dropped = new Map<string, string[]>();
    items.forEach((item, j) => {
      const { kept: rows, dropped: d } = kept[j]!;
      if (d.length > 0) dropped.set(item, d);
      const known = rows.filter(([user]) => fresh.has(user) || stored.has(user));
      if (known.length === 0) return;
      const packed = new Float64Array(known.length * f);
      known.forEach(([user], k) => packed.set((fresh.get(user) ?? stored.get(user))!, k * f));
      vectors.set(
        item,
        foldInItem(
          packed,
          f,
          userGram,
          known.map(([, v]) => v),
          model.params,
        ),
      );
    });
    await this.models.writeItemVectors(model, vectors);
    await trimAlsHistories(this.redis, tenant, 'item', dropped);
  }

  /** Re-solves the users' vectors from their full histories and writes them under the model's version. */
  async refresh(tenant: string, model: LoadedAls, users: string[]): Promise<Map<string, Float64Array>> {
    const histories = await readAlsHistories(this.redis, tenant, 'user', users);
    const vectors = new Map<string, Float64Array>();
    const dropped = new Map<string, string[]>();
    users.forEach((user, j) => {
      const { kept, dropped: d } = this.bounded(histories[j]!);
      if (d.length > 0) dropped.set(user, d);
      const interactions = kept
        .map(([item, value]) => ({ item: model.itemIndex.get(item) ?? -1, value }))
        .filter((x) => x.item >= 0);
      if (interactions.length > 0) vectors.set(user, foldInUser(model, model.gram, interactions, model.params));
    });
    await this.models.writeUserVectors(tenant, model.version, vectors);
    await trimAlsHistories(this.redis, tenant, 'user', dropped);
    return vectors;
  }

  /** Keeps the strongest `historyMaxItems` interactions: a bound on memory and on the solve's cost. */
  private bounded(raw: Record<string, string>): { kept: [string, number][]; dropped: string[] } {
    const entries = Object.entries(raw).map(([k, v]) => [k, Number(v)] as [string, number]);
    if (entries.length <= this.options.historyMaxItems) return { kept: entries, dropped: [] };
    entries.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    return {
      kept: entries.slice(0, this.options.historyMaxItems),
      dropped: entries.slice(this.options.historyMaxItems).map(([k]) => k),
    };
  }
}
