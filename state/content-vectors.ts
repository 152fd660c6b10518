// Content embeddings of catalogue items in ALS space. Retcon fits the content map (fingerprint -> factors) against a
// tenant's current ALS version and publishes it as an artifact (with the fingerprint spec and scaler version it used);
// from then on every new or changed item the catalogue processor applies gets its mapped vector at once, stored under
// that ALS version and announced, so readers upsert it into their live index within seconds of the record. Keys:
// contentMapCurrentKey and contentVectorsKey in state/keys.ts.
import type { CatalogItem } from '../core/catalog.ts';
import { fingerprint, type FingerprintSpec } from '../core/embeddings/fingerprint.ts';
import {
  applyContentMap,
  decodeContentMap,
  encodeContentMap,
  type ContentMap,
} from '../core/embeddings/content-map.ts';
import type { ScalerSnapshot } from '../core/features/scaler.ts';
import type { ArtifactManifest, ArtifactStore } from '../platform/artifact-store.ts';
import type { Redis } from '../platform/redis.ts';
import { decodeVector, encodeVector } from './als-models.ts';
import { ITEM_UPDATES_CHANNEL, alsCurrentKey, contentMapCurrentKey, contentVectorsKey } from './keys.ts';
import { currentScaler, loadScaler } from './scaler-versions.ts';

export const CONTENT_MAP_KIND = 'content-map';

export interface ContentMapMeta {
  tenant: string;
  alsVersion: string;
  scalerVersion: string | null;
  spec: FingerprintSpec;
  regularization: number;
  /** Items the map was fitted on (those with at least minInteractions). */
  fittedItems: number;
  /** Mean cosine between mapped and trained vectors on held-out warm items, and for the mean-vector baseline. */
  holdout: { items: number; cosine: number; baselineCosine: number } | null;
}

export interface LoadedContentMap {
  version: string;
  meta: ContentMapMeta;
  map: ContentMap;
  scaler: ScalerSnapshot | null;
}

/** Announces item vectors in a version's factor space: { tenant, version, items, source } (or deletions: { tenant, deleted }). */
export type ItemUpdate =
  | { tenant: string; version: string; items: string[]; source: 'als' | 'content' }
  | { tenant: string; deleted: string[] };

export class ContentVectorStore {
  private readonly cache = new Map<string, Promise<LoadedContentMap>>();

  constructor(
    private readonly redis: Redis,
    private readonly artifacts: ArtifactStore,
  ) {}

  async publish(tenant: string, map: ContentMap, meta: ContentMapMeta): Promise<ArtifactManifest<ContentMapMeta>> {
    const manifest = await this.artifacts.put<ContentMapMeta>(CONTENT_MAP_KIND, encodeContentMap(map), 'bin', meta);
    await this.redis.set(contentMapCurrentKey(tenant), manifest.version);
    return manifest;
  }

  /** Retires the tenant's content map (retcon found none worth using for the current model). */
  async clear(tenant: string): Promise<void> {
    await this.redis.del(contentMapCurrentKey(tenant));
  }

  /** The tenant's content map, or null before retcon fitted one. */
  async current(tenant: string): Promise<LoadedContentMap | null> {
    const version = await this.redis.get(contentMapCurrentKey(tenant));
    if (!version) return null;
    let pending = this.cache.get(version);
    if (!pending) {
      pending = this.artifacts.load<ContentMapMeta>(CONTENT_MAP_KIND, version).then(async ({ manifest, content }) => ({
        version,
        meta: manifest.meta,
        map: decodeContentMap(content),
        scaler: manifest.meta.scalerVersion ? await loadScaler(this.artifacts, manifest.meta.scalerVersion) : null,
      }));
      pending.catch(() => this.cache.delete(version));
      this.cache.set(version, pending);
    }
    return pending;
  }

  /**
   * Maps items into the tenant's current ALS space and announces them. Nothing happens when the content map was fitted
   * for an older ALS version (the next retcon refits it); returns how many vectors were written.
   */
  async embed(tenant: string, items: readonly CatalogItem[]): Promise<number> {
    const live = items.filter((i) => !i.deleted);
    if (live.length === 0) return 0;
    const loaded = await this.current(tenant);
    if (!loaded) return 0;
    const als = await this.redis.get(alsCurrentKey(tenant));
    if (als !== loaded.meta.alsVersion) return 0;
    const args: (string | Buffer)[] = [];
    for (const item of live)
      args.push(
        item.itemId,
        encodeVector(applyContentMap(loaded.map, fingerprint(item, loaded.meta.spec, loaded.scaler))),
      );
    const update: ItemUpdate = { tenant, version: als, items: live.map((i) => i.itemId), source: 'content' };
    await this.redis
      .pipeline()
      .hset(contentVectorsKey(tenant, als), ...args)
      .expire(contentVectorsKey(tenant, als), 30 * 24 * 3600)
      .publish(ITEM_UPDATES_CHANNEL, JSON.stringify(update))
      .exec();
    return live.length;
  }

  /** Stored content vectors of items under an ALS version. */
  async vectors(tenant: string, alsVersion: string, items: readonly string[]): Promise<Map<string, Float64Array>> {
    const out = new Map<string, Float64Array>();
    if (items.length === 0) return out;
    const bufs = await this.redis.hmgetBuffer(contentVectorsKey(tenant, alsVersion), ...items);
    items.forEach((id, j) => {
      const b = bufs[j];
      if (b) out.set(id, decodeVector(b));
    });
    return out;
  }

  /** The scaler version retcon uses now, or null before the tenant's first. */
  currentScaler(tenant: string): Promise<{ version: string; snapshot: ScalerSnapshot } | null> {
    return currentScaler(this.redis, this.artifacts, tenant);
  }
}
