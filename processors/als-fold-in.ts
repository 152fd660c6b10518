// Streaming ALS fold-in: each event adds its weight to the user's interaction history (once per event id), then the
// user's vector is re-solved exactly from the whole history with the current version's item factors fixed, and written
// under that version. Re-solving from the history (not updating incrementally) makes the vector a pure function of
// the events, so re-delivery cannot skew it. Items the model has never seen are kept in the history (the next retrain
// learns them) but carry no factors yet.
import type { InteractionEvent } from '../core/events.ts';
import { foldInUser } from '../core/models/als.ts';
import type { Redis } from '../platform/redis.ts';
import type { BatchProcessor, ConsumedRecord } from '../streams/consumer-runner.ts';
import { alsHistoryKey, type AlsModelStore, type LoadedAls } from './als-model-store.ts';

// Per event: SET NX its marker, then add its weight to the user's history; returns the users whose history changed.
const APPLY_HISTORY = `
local p, ttl, dedupeTtl = ARGV[1], ARGV[2], ARGV[3]
local changed = {}
for i = 4, #ARGV, 4 do
  local eventId, user, item, weight = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if redis.call('SET', p .. 'ev:als:' .. eventId, '1', 'NX', 'EX', dedupeTtl) then
    local h = p .. 'als:hist:' .. user
    redis.call('HINCRBYFLOAT', h, item, weight)
    redis.call('EXPIRE', h, ttl)
    changed[user] = true
  end
end
local out = {}
for u, _ in pairs(changed) do out[#out + 1] = u end
return out
`;

export interface FoldInOptions {
  weights: Record<InteractionEvent['type'], number>;
  historyMaxItems: number;
  historyTtlS: number;
  dedupeTtlS: number;
}

export class AlsFoldInProcessor implements BatchProcessor<InteractionEvent> {
  readonly name = 'als-fold-in';
  /** Solve times of the last batches, seconds (for the benchmark). */
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
      const args: (string | number)[] = [`rs:{${tenant}}:`, this.options.historyTtlS, this.options.dedupeTtlS];
      for (const e of events) args.push(e.eventId, e.userId, e.itemId, this.options.weights[e.type]);
      const changed = (await this.redis.eval(APPLY_HISTORY, 1, alsHistoryKey(tenant, '_'), ...args)) as string[];
      // Before the tenant's first training there is no model to fold into; the history still accrues.
      const model = await this.models.current(tenant);
      if (model && changed.length > 0) await this.refresh(tenant, model, changed);
    }
  }

  /** Re-solves the users' vectors from their full histories and writes them under the model's version. */
  async refresh(tenant: string, model: LoadedAls, users: string[]): Promise<void> {
    const pipe = this.redis.pipeline();
    for (const u of users) pipe.hgetall(alsHistoryKey(tenant, u));
    const histories = (await pipe.exec()) ?? [];
    const vectors = new Map<string, Float64Array>();
    const trim = this.redis.pipeline();
    const started = performance.now();
    users.forEach((user, j) => {
      const [err, raw] = histories[j] ?? [null, {}];
      if (err) throw err;
      const { kept, dropped } = this.boundedHistory(raw as Record<string, string>);
      if (dropped.length > 0) trim.hdel(alsHistoryKey(tenant, user), ...dropped);
      const interactions = kept
        .map(([item, value]) => ({ item: model.itemIndex.get(item) ?? -1, value }))
        .filter((x) => x.item >= 0);
      if (interactions.length > 0) vectors.set(user, foldInUser(model, model.gram, interactions, model.params));
    });
    this.solveSeconds.push((performance.now() - started) / 1000 / Math.max(1, users.length));
    if (this.solveSeconds.length > 10_000) this.solveSeconds.splice(0, this.solveSeconds.length - 10_000);
    await this.models.writeUserVectors(tenant, model.version, vectors);
    if (trim.length > 0) await trim.exec();
  }

  /** Keeps the strongest `historyMaxItems` interactions: a bound on memory and on the solve's cost. */
  private boundedHistory(raw: Record<string, string>): { kept: [string, number][]; dropped: string[] } {
    const entries = Object.entries(raw).map(([k, v]) => [k, Number(v)] as [string, number]);
    if (entries.length <= this.options.historyMaxItems) return { kept: entries, dropped: [] };
    entries.sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
    return { kept: entries.slice(0, this.options.historyMaxItems), dropped: entries.slice(this.options.historyMaxItems).map(([k]) => k) };
  }
}
