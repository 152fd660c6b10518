// The learned rankers' state around them: versions of each tenant's rankers as immutable artifacts (the online FTRL
// click model and the batch LambdaMART tree ranker), which one serves, and the context each served candidate was
// scored with, kept by recommendation id for the attribution window so the trainer learns from exactly what serving
// saw. Readers re-read the pointers within seconds, so a new version or a switch of ranker is a hot swap. Keys:
// rankerCurrentKey, treeRankerCurrentKey, rankerServingKey and servedKey in state/keys.ts. A served feed logs the raw
// context, not a feature list (a few dozen bytes per item, one SET per feed); trainers and readers derive features from
// it with the same functions.
import { ExpiringCache } from '../platform/expiring-cache.ts';
import { FtrlModel } from '../core/models/ftrl.ts';
import type { LambdaMartModel } from '../core/models/lambdamart.ts';
import { FtrlRanker, LambdaMartRanker, RANKER_KINDS, type Ranker, type RankerKind } from '../core/funnel/ranker.ts';
import type { RankerTrainingReport } from '../core/models/ranker-training.ts';
import type { RankingContext } from '../core/funnel/ranking-features.ts';
import type { ArtifactStore } from '../platform/artifact-store.ts';
import type { Redis } from '../platform/redis.ts';
import { rankerCurrentKey, rankerServingKey, servedKey, treeRankerCurrentKey } from './keys.ts';

export type RankerChoice = RankerKind | 'none';
const pointerKey: Record<RankerKind, (tenant: string) => string> = {
  ftrl: rankerCurrentKey,
  lambdamart: treeRankerCurrentKey,
};
const REFRESH_MS = 5_000;

export interface RankerMeta {
  tenant: string;
  updates: number;
  parent: string | null;
}

export interface TreeRankerMeta extends RankerTrainingReport {
  tenant: string;
  parent: string | null;
  trainSeconds: number;
  features: readonly string[];
}

type Snapshot = ReturnType<FtrlModel['toSnapshot']>;

function encode(s: Snapshot): Buffer {
  return Buffer.from(
    JSON.stringify({
      params: s.params,
      updates: s.updates,
      indices: Array.from(s.indices),
      z: Array.from(s.z),
      n: Array.from(s.n),
    }),
  );
}

function decode(buf: Buffer): Snapshot {
  const j = JSON.parse(buf.toString('utf8')) as {
    params: Snapshot['params'];
    updates: number;
    indices: number[];
    z: number[];
    n: number[];
  };
  return {
    params: j.params,
    updates: j.updates,
    indices: Uint32Array.from(j.indices),
    z: Float64Array.from(j.z),
    n: Float64Array.from(j.n),
  };
}

const kindOf = (version: string): RankerKind => {
  const kind = RANKER_KINDS.find((k) => version.startsWith(`${k}-`));
  if (!kind) throw new Error(`not a ranker version: ${JSON.stringify(version)}`);
  return kind;
};

export const isRankerChoice = (s: string): s is RankerChoice =>
  s === 'none' || (RANKER_KINDS as readonly string[]).includes(s);

interface Pointers {
  serving: RankerChoice;
  ftrl: string | null;
  lambdamart: string | null;
}

export class RankerStore {
  private readonly cache = new ExpiringCache<string, Pointers>(REFRESH_MS);
  private readonly loaded = new Map<string, Promise<Ranker>>();

  constructor(
    private readonly redis: Redis,
    private readonly artifacts: ArtifactStore,
  ) {}

  /** A new FTRL version, made current. */
  async publish(tenant: string, model: FtrlModel): Promise<string> {
    const parent = await this.redis.get(rankerCurrentKey(tenant));
    const manifest = await this.artifacts.put<RankerMeta>('ftrl', encode(model.toSnapshot()), 'json', {
      tenant,
      updates: model.updates,
      parent,
    });
    await this.redis.set(rankerCurrentKey(tenant), manifest.version);
    return manifest.version;
  }

  /** A new LambdaMART version, made the tenant's current tree ranker (serving it is a separate choice). */
  async publishTree(
    tenant: string,
    model: LambdaMartModel,
    meta: Omit<TreeRankerMeta, 'tenant' | 'parent'>,
  ): Promise<string> {
    const parent = await this.redis.get(treeRankerCurrentKey(tenant));
    const manifest = await this.artifacts.put<TreeRankerMeta>(
      'lambdamart',
      Buffer.from(JSON.stringify(model)),
      'json',
      { ...meta, tenant, parent },
    );
    await this.redis.set(treeRankerCurrentKey(tenant), manifest.version);
    return manifest.version;
  }

  /** Which ranker orders the tenant's feeds; refuses a ranker the tenant has no version of. */
  async setServing(tenant: string, choice: RankerChoice): Promise<void> {
    if (choice !== 'none' && (await this.redis.get(pointerKey[choice](tenant))) === null)
      throw new Error(`tenant ${tenant} has no ${choice} ranker version to serve yet`);
    await this.redis.set(rankerServingKey(tenant), choice);
    this.cache.invalidate(tenant);
  }

  async status(tenant: string): Promise<Pointers> {
    this.cache.invalidate(tenant);
    return this.pointers(tenant);
  }

  private pointers(tenant: string): Promise<Pointers> {
    return this.cache.get(tenant, async () => {
      const [serving, ftrl, lambdamart] = await this.redis.mget(
        rankerServingKey(tenant),
        rankerCurrentKey(tenant),
        treeRankerCurrentKey(tenant),
      );
      return {
        serving: serving && isRankerChoice(serving) ? serving : 'ftrl',
        ftrl: ftrl ?? null,
        lambdamart: lambdamart ?? null,
      };
    });
  }

  private load(version: string): Promise<Ranker> {
    let p = this.loaded.get(version);
    if (!p) {
      const kind = kindOf(version);
      p = this.artifacts
        .load(kind, version)
        .then(({ content }) =>
          kind === 'ftrl'
            ? new FtrlRanker(FtrlModel.fromSnapshot(decode(content)))
            : new LambdaMartRanker(JSON.parse(content.toString('utf8')) as LambdaMartModel),
        );
      p.catch(() => this.loaded.delete(version));
      this.loaded.set(version, p);
    }
    return p;
  }

  /**
   * The ranker ordering a tenant's feeds (the pointers re-read at most every few seconds): the tenant's serving choice,
   * or `choice` (an experiment variant's); null for none, or before the chosen ranker's first version.
   */
  async current(tenant: string, choice?: RankerChoice): Promise<{ version: string; ranker: Ranker } | null> {
    const p = await this.pointers(tenant);
    const kind = choice ?? p.serving;
    const version = kind === 'none' ? null : p[kind];
    return version ? { version, ranker: await this.load(version) } : null;
  }

  /** The tenant's current FTRL model, whichever ranker serves: what the online trainer warm-starts from. */
  async currentFtrl(tenant: string): Promise<FtrlModel | null> {
    const version = await this.redis.get(rankerCurrentKey(tenant));
    if (!version) return null;
    const r = await this.load(version);
    return r instanceof FtrlRanker ? r.model : null;
  }

  /** Logs the ranking context of each item shown, for the attribution window. */
  async logServed(
    tenant: string,
    recommendationId: string,
    contexts: ReadonlyMap<string, RankingContext>,
    ttlS: number,
  ): Promise<void> {
    if (contexts.size === 0) return;
    await this.redis.set(servedKey(tenant, recommendationId), JSON.stringify(Object.fromEntries(contexts)), 'EX', ttlS);
  }

  /** The logged contexts of recommendations (null where none was logged or it expired), one round trip. */
  async served(
    keys: readonly { tenant: string; recommendationId: string }[],
  ): Promise<(Record<string, RankingContext> | null)[]> {
    if (keys.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const k of keys) pipe.get(servedKey(k.tenant, k.recommendationId));
    return ((await pipe.exec()) ?? []).map(([err, v]) => {
      if (err) throw err;
      return typeof v === 'string' ? (JSON.parse(v) as Record<string, RankingContext>) : null;
    });
  }
}
