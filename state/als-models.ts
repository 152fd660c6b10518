// Versioned ALS models: item factors as an immutable, content-addressed artifact (header JSON + float64 factors), user
// vectors in Redis under the version (float32, one hash per tenant and version), the tenant's current version as a
// pointer, and an announcement on a pub/sub channel when it changes. Readers load a version by id and keep it until the
// pointer moves; an old version's user vectors expire an hour after it is replaced, so a reader mid-swap still finds them.
// Keys: state/keys.ts; the interaction histories fold-in re-solves from are state/als-histories.ts.
import type { AlsModel, AlsParams } from '../core/models/als.ts';
import { itemGramian, updateGramian } from '../core/models/als.ts';
import type { ArtifactManifest, ArtifactStore } from '../platform/artifact-store.ts';
import type { Redis } from '../platform/redis.ts';
import { ITEM_UPDATES_CHANNEL, MODELS_CHANNEL, alsCurrentKey, alsItemsKey, alsUsersKey } from './keys.ts';

export const ALS_KIND = 'als';

const OLD_VERSION_GRACE_S = 3600;

export interface AlsHeader {
  tenant: string;
  factors: number;
  nItems: number;
  itemIds: string[];
  params: AlsParams;
}

export interface AlsMeta {
  tenant: string;
  nUsers: number;
  nItems: number;
  interactions: number;
  params: AlsParams;
  weights: Record<string, number>;
  trainSeconds: number;
  scalerVersion: string | null;
  parent: string | null;
}

/**
 * A model as serving and fold-in use it: the version's item side, plus the items fold-in re-solved since (new items
 * appended), with YᵀY kept current. `itemFactors` may have spare capacity beyond nItems rows.
 */
export interface LoadedAls {
  version: string;
  tenant: string;
  factors: number;
  nItems: number;
  itemIds: string[];
  itemIndex: Map<string, number>;
  itemFactors: Float64Array;
  gram: Float64Array;
  params: AlsParams;
}

interface LiveModel {
  model: LoadedAls;
  refreshedAt: number;
  userGram: Promise<Float64Array> | null;
  /** The stored bytes last applied per item: a refresh applies only what another process changed. */
  applied: Map<string, Buffer>;
}

/** How often a process re-reads the item vectors other processes' fold-in wrote. */
const REFRESH_MS = 5_000;

export function encodeAlsArtifact(header: AlsHeader, itemFactors: Float64Array): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(4 + json.length + itemFactors.length * 8);
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  for (let i = 0; i < itemFactors.length; i++) out.writeDoubleLE(itemFactors[i]!, 4 + json.length + i * 8);
  return out;
}

export function decodeAlsArtifact(content: Buffer): { header: AlsHeader; itemFactors: Float64Array } {
  const len = content.readUInt32LE(0);
  const header = JSON.parse(content.subarray(4, 4 + len).toString('utf8')) as AlsHeader;
  const n = header.nItems * header.factors;
  if (content.length !== 4 + len + n * 8)
    throw new Error(
      `ALS artifact size ${content.length} does not match ${header.nItems} items x ${header.factors} factors`,
    );
  const itemFactors = new Float64Array(n);
  for (let i = 0; i < n; i++) itemFactors[i] = content.readDoubleLE(4 + len + i * 8);
  return { header, itemFactors };
}

export function encodeVector(v: Float64Array): Buffer {
  const out = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) out.writeFloatLE(v[i]!, i * 4);
  return out;
}

export function decodeVector(buf: Buffer): Float64Array {
  const out = new Float64Array(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export class AlsModelStore {
  private readonly cache = new Map<string, Promise<LoadedAls>>();
  private readonly live = new Map<string, LiveModel>();

  constructor(
    private readonly redis: Redis,
    private readonly artifacts: ArtifactStore,
  ) {}

  /** Saves a trained model (artifact + user vectors) and makes it the tenant's current version. */
  async publish(
    tenant: string,
    model: AlsModel,
    userIds: string[],
    itemIds: string[],
    meta: Omit<AlsMeta, 'parent'>,
  ): Promise<ArtifactManifest<AlsMeta>> {
    const parent = await this.currentVersion(tenant);
    const header: AlsHeader = { tenant, factors: model.factors, nItems: model.nItems, itemIds, params: meta.params };
    const manifest = await this.artifacts.put<AlsMeta>(ALS_KIND, encodeAlsArtifact(header, model.itemFactors), 'bin', {
      ...meta,
      parent,
    });
    const usersKey = alsUsersKey(tenant, manifest.version);
    for (let start = 0; start < userIds.length; start += 1000) {
      const pipe = this.redis.pipeline();
      for (let u = start; u < Math.min(start + 1000, userIds.length); u++) {
        pipe.hset(
          usersKey,
          userIds[u]!,
          encodeVector(model.userFactors.subarray(u * model.factors, (u + 1) * model.factors)),
        );
      }
      await pipe.exec();
    }
    await this.promote(tenant, manifest.version, parent);
    return manifest;
  }

  /** Points the tenant at a version and announces it; the previous version's user vectors expire after a grace period. */
  async promote(tenant: string, version: string, previous: string | null): Promise<void> {
    const pipe = this.redis.pipeline().set(alsCurrentKey(tenant), version).persist(alsUsersKey(tenant, version));
    if (previous && previous !== version)
      pipe
        .expire(alsUsersKey(tenant, previous), OLD_VERSION_GRACE_S)
        .expire(alsItemsKey(tenant, previous), OLD_VERSION_GRACE_S);
    await pipe.publish(MODELS_CHANNEL, JSON.stringify({ tenant, kind: ALS_KIND, version })).exec();
  }

  currentVersion(tenant: string): Promise<string | null> {
    return this.redis.get(alsCurrentKey(tenant));
  }

  /** The version's artifact, loaded once per process and checksum-verified. */
  private base(version: string): Promise<LoadedAls> {
    let pending = this.cache.get(version);
    if (!pending) {
      pending = this.artifacts.load(ALS_KIND, version).then(({ content }) => {
        const { header, itemFactors } = decodeAlsArtifact(content);
        const side = { itemFactors, nItems: header.nItems, factors: header.factors };
        return {
          version,
          tenant: header.tenant,
          factors: header.factors,
          nItems: header.nItems,
          itemIds: header.itemIds,
          itemIndex: new Map(header.itemIds.map((id, i) => [id, i])),
          itemFactors,
          gram: itemGramian(side),
          params: header.params,
        };
      });
      pending.catch(() => this.cache.delete(version));
      this.cache.set(version, pending);
    }
    return pending;
  }

  /**
   * The version with the item vectors fold-in wrote since training, re-read when older than `maxAgeMs` (a few seconds
   * for serving; 0 for a job that must see every update so far).
   */
  async load(version: string, maxAgeMs = REFRESH_MS): Promise<LoadedAls> {
    let live = this.live.get(version);
    if (!live) {
      const b = await this.base(version);
      live = this.live.get(version) ?? {
        model: {
          ...b,
          itemIds: [...b.itemIds],
          itemIndex: new Map(b.itemIndex),
          itemFactors: b.itemFactors.slice(),
          gram: b.gram.slice(),
        },
        refreshedAt: 0,
        userGram: null,
        applied: new Map(),
      };
      this.live.set(version, live);
    }
    if (Date.now() - live.refreshedAt >= maxAgeMs) {
      live.refreshedAt = Date.now();
      const overrides = await this.redis.hgetallBuffer(alsItemsKey(live.model.tenant, version));
      for (const [item, buf] of Object.entries(overrides)) {
        if (live.applied.get(item)?.equals(buf)) continue;
        live.applied.set(item, buf);
        setItemVector(live.model, item, decodeVector(buf));
      }
    }
    return live.model;
  }

  /** The tenant's current model, or null before its first training. */
  async current(tenant: string, maxAgeMs = REFRESH_MS): Promise<LoadedAls | null> {
    const version = await this.currentVersion(tenant);
    return version ? this.load(version, maxAgeMs) : null;
  }

  /** XᵀX over the version's trained user vectors (fixed between retrains): what every item re-solve shares. */
  async userGram(model: LoadedAls): Promise<Float64Array> {
    const live = this.live.get(model.version);
    if (!live) throw new Error(`model ${model.version} is not loaded`);
    if (!live.userGram) {
      live.userGram = this.redis.hvalsBuffer(alsUsersKey(model.tenant, model.version)).then((vectors) => {
        const f = model.factors;
        const packed = new Float64Array(vectors.length * f);
        vectors.forEach((buf, j) => packed.set(decodeVector(buf), j * f));
        return itemGramian({ itemFactors: packed, nItems: vectors.length, factors: f });
      });
      live.userGram.catch(() => (live.userGram = null));
    }
    return live.userGram;
  }

  /** Stored user vectors of a version, by user id (users without one are absent). */
  userVectors(tenant: string, version: string, users: string[]): Promise<Map<string, Float64Array>> {
    return this.readVectors(alsUsersKey(tenant, version), users);
  }

  /** Applies re-solved item vectors to the loaded model and stores them for other processes. */
  async writeItemVectors(model: LoadedAls, vectors: Map<string, Float64Array>): Promise<void> {
    if (vectors.size === 0) return;
    const live = this.live.get(model.version);
    const args: (string | Buffer)[] = [];
    for (const [item, v] of vectors) {
      setItemVector(model, item, v);
      const buf = encodeVector(v);
      live?.applied.set(item, buf);
      args.push(item, buf);
    }
    await this.redis
      .pipeline()
      .hset(alsItemsKey(model.tenant, model.version), ...args)
      .publish(
        ITEM_UPDATES_CHANNEL,
        JSON.stringify({ tenant: model.tenant, version: model.version, items: [...vectors.keys()], source: 'als' }),
      )
      .exec();
  }

  /** Item vectors fold-in stored for a version (the overrides), by item id. */
  itemVectors(tenant: string, version: string, items: string[]): Promise<Map<string, Float64Array>> {
    return this.readVectors(alsItemsKey(tenant, version), items);
  }

  private async readVectors(key: string, ids: string[]): Promise<Map<string, Float64Array>> {
    const out = new Map<string, Float64Array>();
    if (ids.length === 0) return out;
    const bufs = await this.redis.hmgetBuffer(key, ...ids);
    ids.forEach((id, j) => {
      const b = bufs[j];
      if (b) out.set(id, decodeVector(b));
    });
    return out;
  }

  async userVector(tenant: string, version: string, user: string): Promise<Float64Array | null> {
    const buf = await this.redis.hgetBuffer(alsUsersKey(tenant, version), user);
    return buf ? decodeVector(buf) : null;
  }

  async writeUserVectors(tenant: string, version: string, vectors: Map<string, Float64Array>): Promise<void> {
    if (vectors.size === 0) return;
    const args: (string | Buffer)[] = [];
    for (const [user, v] of vectors) args.push(user, encodeVector(v));
    await this.redis.hset(alsUsersKey(tenant, version), ...args);
  }
}

/** Sets (or appends) an item's vector in a loaded model, keeping YᵀY equal to the Gramian of its factors. */
export function setItemVector(model: LoadedAls, item: string, vector: Float64Array): void {
  const f = model.factors;
  let i = model.itemIndex.get(item);
  if (i === undefined) {
    i = model.nItems;
    if ((i + 1) * f > model.itemFactors.length) {
      const grown = new Float64Array(Math.max((i + 1) * f, Math.ceil(model.itemFactors.length * 1.5)));
      grown.set(model.itemFactors);
      model.itemFactors = grown;
    }
    model.itemIds.push(item);
    model.itemIndex.set(item, i);
    model.nItems = i + 1;
    updateGramian(model.gram, f, null, vector);
  } else {
    updateGramian(model.gram, f, model.itemFactors.slice(i * f, (i + 1) * f), vector);
  }
  model.itemFactors.set(vector, i * f);
}
