// What a reader serves, as Prometheus series, computed when scraped:
//   rankstream_index_info{partition, version} 1          the HNSW snapshot each partition serves from (in memory)
//   rankstream_index_items{partition}                   items in that snapshot at build time
//   rankstream_index_built_timestamp_seconds{partition} when it was built (alert on age)
//   rankstream_index_swaps_total{outcome}               swapped | refused (a snapshot that failed its checks)
//   rankstream_model_version_info{tenant, model, version} 1  published versions: model = als, ftrl (online click
//                                                       model) or lambdamart (batch tree ranker)
//   rankstream_ranker_serving_info{tenant, ranker} 1    which ranker orders the tenant's feeds (ftrl, lambdamart, none)
// Model versions are the Redis pointers readers follow (rankers within 5 s, ALS at once); they are read with a time
// bound, and a scrape during a Redis outage keeps the last values rather than waiting.
import { Counter, Gauge, type Registry } from 'prom-client';
import { withTimeout } from '../platform/health.ts';
import type { Logger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import { TENANTS_KEY, alsCurrentKey, rankerCurrentKey, rankerServingKey, treeRankerCurrentKey } from '../state/keys.ts';
import { isRankerChoice } from '../state/ranker-models.ts';
import type { IndexManager } from './index-manager.ts';

export interface ModelVersion {
  tenant: string;
  model: 'als' | 'ftrl' | 'lambdamart';
  version: string;
}

export interface ServingModels {
  versions: ModelVersion[];
  /** The ranker ordering each tenant's feeds (ftrl when none was chosen, as RankerStore reads it). */
  rankers: { tenant: string; ranker: string }[];
}

export type IndexView = Pick<IndexManager, 'loaded' | 'swaps' | 'rejections'>;

const POINTERS = [
  ['als', alsCurrentKey],
  ['ftrl', rankerCurrentKey],
  ['lambdamart', treeRankerCurrentKey],
] as const;

/** The published model versions and the serving ranker of every tenant with data, and of the community partition. */
export async function readServingModels(redis: Redis, communityPartition: string): Promise<ServingModels> {
  const tenants = [...new Set([...(await redis.smembers(TENANTS_KEY)), communityPartition])].sort();
  const out: ServingModels = { versions: [], rankers: [] };
  const width = POINTERS.length + 1;
  const values = await redis.mget(
    ...tenants.flatMap((t) => [...POINTERS.map(([, key]) => key(t)), rankerServingKey(t)]),
  );
  tenants.forEach((tenant, i) => {
    POINTERS.forEach(([model], j) => {
      const version = values[i * width + j];
      if (version) out.versions.push({ tenant, model, version });
    });
    const serving = values[i * width + POINTERS.length];
    out.rankers.push({ tenant, ranker: serving && isRankerChoice(serving) ? serving : 'ftrl' });
  });
  return out;
}

const MODEL_READ_TIMEOUT_MS = 2000;

/** The reader's serving series on the registry (once per registry: one reader reports them). */
export function registerServingMetrics(
  registry: Registry,
  src: { indexes: IndexView; models: () => Promise<ServingModels>; logger: Logger },
): void {
  if (registry.getSingleMetric('rankstream_index_info')) return; // one reader per registry reports it
  registerIndexMetrics([registry], src.indexes);
  registerModelMetrics([registry], src);
}

/** The HNSW snapshots served (version, items, build time, per partition) and the swaps so far. */
function registerIndexMetrics(registers: Registry[], indexes: IndexView): void {
  const loaded = () => indexes.loaded();
  new Gauge({
    name: 'rankstream_index_info',
    help: 'The HNSW index version each partition serves (value 1).',
    labelNames: ['partition', 'version'],
    registers,
    collect() {
      this.reset(); // a swapped-out version leaves the series
      for (const i of loaded()) this.set({ partition: i.partition, version: i.version }, 1);
    },
  });
  new Gauge({
    name: 'rankstream_index_items',
    help: 'Items in the served index snapshot (at build time).',
    labelNames: ['partition'],
    registers,
    collect() {
      this.reset();
      for (const i of loaded()) this.set({ partition: i.partition }, i.count);
    },
  });
  new Gauge({
    name: 'rankstream_index_built_timestamp_seconds',
    help: 'When the served index snapshot was built (Unix seconds).',
    labelNames: ['partition'],
    registers,
    collect() {
      this.reset();
      for (const i of loaded()) {
        const t = Date.parse(i.builtAt);
        if (Number.isFinite(t)) this.set({ partition: i.partition }, t / 1000);
      }
    },
  });
  const counted = { swapped: 0, refused: 0 };
  new Counter({
    name: 'rankstream_index_swaps_total',
    help: 'Index snapshots swapped in, and refused because they failed their checks.',
    labelNames: ['outcome'],
    registers,
    collect() {
      const now = { swapped: indexes.swaps, refused: indexes.rejections };
      for (const outcome of ['swapped', 'refused'] as const) {
        this.inc({ outcome }, Math.max(0, now[outcome] - counted[outcome]));
        counted[outcome] = now[outcome];
      }
    },
  });
}

/** The published model versions and each tenant's serving ranker, from one time-bounded Redis read per scrape. */
function registerModelMetrics(
  registers: Registry[],
  src: { models: () => Promise<ServingModels>; logger: Logger },
): void {
  // one Redis read per scrape serves both gauges (prom-client collects them concurrently)
  let last: ServingModels = { versions: [], rankers: [] };
  let read: { at: number; value: Promise<ServingModels> } | null = null;
  const models = (): Promise<ServingModels> => {
    if (!read || Date.now() - read.at > 1000) {
      const value = withTimeout(src.models(), MODEL_READ_TIMEOUT_MS, 'model version pointers').then(
        (m) => (last = m),
        (err: unknown) => {
          src.logger.warn({ err }, 'model versions could not be read; reporting the last ones');
          return last;
        },
      );
      read = { at: Date.now(), value };
    }
    return read.value;
  };
  new Gauge({
    name: 'rankstream_model_version_info',
    help: 'Published model versions per tenant (model: als, ftrl, lambdamart), value 1.',
    labelNames: ['tenant', 'model', 'version'],
    registers,
    async collect() {
      const m = await models();
      this.reset();
      for (const v of m.versions) this.set({ tenant: v.tenant, model: v.model, version: v.version }, 1);
    },
  });
  new Gauge({
    name: 'rankstream_ranker_serving_info',
    help: "The ranker ordering each tenant's feeds (ftrl, lambdamart or none), value 1.",
    labelNames: ['tenant', 'ranker'],
    registers,
    async collect() {
      const m = await models();
      this.reset();
      for (const r of m.rankers) this.set({ tenant: r.tenant, ranker: r.ranker }, 1);
    },
  });
}
