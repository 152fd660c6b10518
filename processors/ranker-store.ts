// The click model's state around it: versions of the per-tenant FTRL ranker as immutable artifacts (readers hot-swap
// to the pointer's version within seconds), and the features each served candidate was scored with, kept by
// recommendation id for the attribution window so the trainer learns from exactly what serving saw.
//   rs:{t}:ranker:current        the tenant's ranker version
//   rs:{t}:served:<rec id>       JSON { item id: ranking context } of the items shown (TTL: 2 x window + 1 h): the
//                                raw context, not the feature list, is logged (a few dozen bytes per item, one SET
//                                per feed); trainer and reader derive features from it with the same function
import { FtrlModel } from '../core/models/ftrl.ts';
import type { RankingContext } from '../core/ranking-features.ts';
import type { ArtifactStore } from '../platform/artifact-store.ts';
import type { Redis } from '../platform/redis.ts';

export const RANKER_KIND = 'ftrl';
export const rankerCurrentKey = (tenant: string) => `rs:{${tenant}}:ranker:current`;
export const servedKey = (tenant: string, recommendationId: string) => `rs:{${tenant}}:served:${recommendationId}`;
const REFRESH_MS = 5_000;

export interface RankerMeta {
  tenant: string;
  updates: number;
  parent: string | null;
}

type Snapshot = ReturnType<FtrlModel['toSnapshot']>;

function encode(s: Snapshot): Buffer {
  return Buffer.from(JSON.stringify({ params: s.params, updates: s.updates, indices: Array.from(s.indices), z: Array.from(s.z), n: Array.from(s.n) }));
}

function decode(buf: Buffer): Snapshot {
  const j = JSON.parse(buf.toString('utf8')) as { params: Snapshot['params']; updates: number; indices: number[]; z: number[]; n: number[] };
  return { params: j.params, updates: j.updates, indices: Uint32Array.from(j.indices), z: Float64Array.from(j.z), n: Float64Array.from(j.n) };
}

export class RankerStore {
  private readonly cache = new Map<string, { at: number; value: Promise<{ version: string; model: FtrlModel } | null> }>();
  private readonly loaded = new Map<string, Promise<FtrlModel>>();

  constructor(
    private readonly redis: Redis,
    private readonly artifacts: ArtifactStore,
  ) {}

  async publish(tenant: string, model: FtrlModel): Promise<string> {
    const parent = await this.redis.get(rankerCurrentKey(tenant));
    const manifest = await this.artifacts.put<RankerMeta>(RANKER_KIND, encode(model.toSnapshot()), 'json', { tenant, updates: model.updates, parent });
    await this.redis.set(rankerCurrentKey(tenant), manifest.version);
    return manifest.version;
  }

  private load(version: string): Promise<FtrlModel> {
    let p = this.loaded.get(version);
    if (!p) {
      p = this.artifacts.load(RANKER_KIND, version).then(({ content }) => FtrlModel.fromSnapshot(decode(content)));
      p.catch(() => this.loaded.delete(version));
      this.loaded.set(version, p);
    }
    return p;
  }

  /** The tenant's current ranker (the pointer re-read at most every few seconds), or null before the first version. */
  current(tenant: string): Promise<{ version: string; model: FtrlModel } | null> {
    const hit = this.cache.get(tenant);
    if (hit && Date.now() - hit.at < REFRESH_MS) return hit.value;
    const value = this.redis.get(rankerCurrentKey(tenant)).then(async (version) => (version ? { version, model: await this.load(version) } : null));
    value.catch(() => this.cache.delete(tenant));
    this.cache.set(tenant, { at: Date.now(), value });
    return value;
  }

  /** Logs the ranking context of each item shown, for the attribution window. */
  async logServed(tenant: string, recommendationId: string, contexts: ReadonlyMap<string, RankingContext>, ttlS: number): Promise<void> {
    if (contexts.size === 0) return;
    await this.redis.set(servedKey(tenant, recommendationId), JSON.stringify(Object.fromEntries(contexts)), 'EX', ttlS);
  }

  /** The logged contexts of recommendations (null where none was logged or it expired), one round trip. */
  async served(keys: readonly { tenant: string; recommendationId: string }[]): Promise<(Record<string, RankingContext> | null)[]> {
    if (keys.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.get(servedKey(k.tenant, k.recommendationId));
    return ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return typeof v === 'string' ? (JSON.parse(v) as Record<string, RankingContext>) : null;
    });
  }
}
