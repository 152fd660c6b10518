// Retrieval on the real stack: catalogue records through Kafka, an ALS model and retcon-built indexes (a tenant and the
// community partition), then feeds that merge the ANN, popular, trending and fresh rails under exact filters: hard
// attribute constraints, deletions that leave the live index within seconds, a brand-new item retrievable through its
// content embedding within seconds, and a new tenant steered by seed items over the community index.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../core/catalog.ts';
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { trainTenantAls } from '../../jobs/als-training.ts';
import { MIN_FIT_ITEMS } from '../../core/embeddings/item-embeddings.ts';
import { retconTenant, type RetconResult } from '../../jobs/retcon.ts';
import { readCatalogItems } from '../../state/catalog.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { createApiKey } from '../../state/api-keys.ts';
import { ItemProducer } from '../../streams/item-producer.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { startReader } from '../../apps/reader.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { isolatedConfig, logger, startStack, type Stack } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const base = isolatedConfig('retrieval');
const name = (p: string) => `${p}-${base.suffix}`.replace(/_/g, '-');
const T = name('shop');
const COMMUNITY = name('commons');
const NEW = name('newcomer');
const config = { ...base, communityPartition: COMMUNITY };
const DAY = 86_400_000;
const t0 = Date.UTC(2026, 5, 1);

let stack: Stack;
let items: ItemProducer;
const keys: Record<string, string> = {};
const retcons: Record<string, RetconResult> = {};
let seq = 0;

interface FeedBody {
  items: { itemId: string; score: number; source: string; propensity: number }[];
  fallback: string | null;
  indexVersion: string;
  field?: string;
  error?: string;
}

async function feed(
  tenant: string,
  user: string,
  body: Record<string, unknown> = {},
): Promise<{ status: number; body: FeedBody }> {
  const res = await fetch(`${stack.reader.url}/v1/feeds`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys[tenant]}`, 'content-type': 'application/json' },
    body: JSON.stringify({ user, k: 10, ...body }),
  });
  return { status: res.status, body: (await res.json()) as FeedBody };
}

const item = (
  tenant: string,
  itemId: string,
  genre: string,
  price: number,
  createdAt: number,
  extra: Record<string, string[]> = {},
): CatalogItem => ({
  tenant,
  itemId,
  attributes: { genres: [genre], title: [`${genre} story ${itemId}`], ...extra },
  numeric: { price },
  createdAt,
  updatedAt: Date.now(),
  deleted: false,
});
const click = (tenant: string, user: string, itemId: string): InteractionEvent => ({
  type: 'click',
  eventId: `${tenant}-${seq++}`,
  tenant,
  userId: user,
  itemId,
  timestamp: t0 + seq * 1000,
  context: {},
  recommendationId: null,
});

async function catalogCaughtUp(): Promise<void> {
  await waitForCaughtUp(stack.admin, [`test-${config.suffix}-catalog`], config.topics.items, 60_000);
}

beforeAll(async () => {
  stack = await startStack(config);
  items = await ItemProducer.connect(
    stack.kafka,
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.items,
  );
  // two tastes in the tenant (action A*, drama B*), one in the community (comedy C*), 36 items each
  const catalog: CatalogItem[] = [];
  for (let i = 0; i < 36; i++) {
    catalog.push(item(T, `A${i}`, 'action', 10 + i, t0 - 30 * DAY), item(T, `B${i}`, 'drama', 100 + i, t0 - 30 * DAY));
    catalog.push(item(COMMUNITY, `C${i}`, i % 2 === 0 ? 'comedy' : 'satire', 5 + i, t0 - 30 * DAY));
  }
  await items.send(catalog);
  const rand = seededRandom(21);
  const events: InteractionEvent[] = [];
  for (let u = 0; u < 24; u++) {
    for (let j = 0; j < 12; j++) {
      events.push(
        click(T, `a${u}`, `A${Math.floor(rand() * 36)}`),
        click(T, `b${u}`, `B${Math.floor(rand() * 36)}`),
        click(COMMUNITY, `c${u}`, `C${(u + j * 3) % 36}`),
      );
    }
  }
  await stack.producer.send(events);
  await stack.caughtUp();
  await catalogCaughtUp();
  const { clickhouse, redis, models, artifacts } = stack;
  const c = config;
  for (const partition of [T, COMMUNITY]) {
    await trainTenantAls(
      { config: c, clickhouse, models, scalerVersion: async () => null, logger },
      { tenant: partition },
    );
    retcons[partition] = (
      await retconTenant({ config: c, clickhouse, redis, models, artifacts, logger }, { tenant: partition })
    ).result;
  }
  for (const t of [T, NEW]) keys[t] = await createApiKey(redis, t);
  for (const partition of [T, COMMUNITY]) {
    await eventually(
      `reader on ${partition}'s index`,
      async () => stack.reader.indexes.get(partition)?.manifest.version,
      (v) => v === retcons[partition]!.version,
      30_000,
    );
  }
}, 240_000);

afterAll(async () => {
  await items?.disconnect();
  await stack?.stop();
});

describe('retrieval rails and exact filters', () => {
  it('builds each partition from the ledger and the catalogue, with a content map where enough items are warm', () => {
    for (const partition of [T, COMMUNITY]) {
      const r = retcons[partition]!;
      expect(r.catalogItems).toBe(partition === T ? 72 : 36);
      expect(r.indexedItems).toBe(r.catalogItems);
    }
    expect(retcons[T]!.contentMap!.fittedItems).toBeGreaterThanOrEqual(MIN_FIT_ITEMS);
    expect(retcons[COMMUNITY]!.contentMap).toBeNull(); // 36 items: too few to fit one
  });

  it('merges the ANN rail with the popular and trending rails, most slots to the ANN rail, and respects what the user saw', async () => {
    const f = await feed(T, 'a3');
    expect(f.status).toBe(200);
    expect(f.body.items).toHaveLength(10);
    const sources = f.body.items.map((i) => i.source);
    expect(sources[0]).toBe('ann');
    expect(sources.filter((s) => s === 'ann').length).toBeGreaterThanOrEqual(6);
    expect(f.body.items.filter((i) => i.source === 'ann').every((i) => i.itemId.startsWith('A'))).toBe(true);
    expect(f.body.indexVersion).toBe(retcons[T]!.version);
    const seen = new Set(await stack.redis.zrange(`rs:{${T}}:seen:a3`, '0', '-1'));
    expect(seen.size).toBeGreaterThan(0);
    expect(f.body.items.filter((i) => seen.has(i.itemId))).toEqual([]);
  });

  it('applies hard attribute constraints to every rail, widening the pool, and rejects malformed ones by field', async () => {
    const drama = await feed(T, 'a3', { where: { genres: ['drama'] } });
    expect(drama.body.items.length).toBe(10);
    expect(drama.body.items.every((i) => i.itemId.startsWith('B'))).toBe(true); // an action fan, constrained to drama
    const cheap = await feed(T, 'b2', { where: { price: { max: 15 } } });
    const records = await readCatalogItems(
      stack.redis,
      T,
      cheap.body.items.map((i) => i.itemId),
    );
    expect(cheap.body.items.length).toBeGreaterThan(0);
    for (const rec of records.values()) expect(rec!.numeric.price).toBeLessThanOrEqual(15);
    const get = await fetch(
      `${stack.reader.url}/v1/feeds/a3?k=5&where=${encodeURIComponent(JSON.stringify({ genres: ['drama'] }))}`,
      { headers: { authorization: `Bearer ${keys[T]}` } },
    );
    expect(((await get.json()) as FeedBody).items.every((i) => i.itemId.startsWith('B'))).toBe(true);
    const bad = await feed(T, 'a3', { where: { price: { min: 9, max: 1 } } });
    expect(bad).toMatchObject({ status: 400, body: { field: 'where', error: 'where: price: min is above max' } });
    const none = await feed(T, 'a3', { where: { genres: ['western'] } });
    expect(none).toMatchObject({ status: 200, body: { items: [] } });
  });

  it('drops a deleted item from feeds and from the live index within seconds', async () => {
    const top = (await feed(T, 'a5')).body.items.find((i) => i.source === 'ann')!.itemId;
    const rec = (await readCatalogItems(stack.redis, T, [top])).get(top)!;
    await items.send([{ ...rec, deleted: true, updatedAt: Math.max(Date.now(), rec.updatedAt + 1) }]);
    await eventually(
      'the live index drops it',
      async () => stack.reader.indexes.get(T)!.has(top),
      (has) => !has,
      15_000,
    );
    for (const user of ['a5', 'a6', 'a7', 'b1'])
      expect((await feed(T, user, { k: 30 })).body.items.map((i) => i.itemId)).not.toContain(top);
  });

  it('makes a brand-new item retrievable by its content embedding within seconds, and offers it on the fresh rail', async () => {
    const latest = t0 + seq * 1000;
    await items.send([item(T, 'A-new', 'action', 20, latest, { collection: ['spring'] })]);
    await eventually(
      'the live index takes its content vector',
      async () => stack.reader.indexes.get(T)!.has('A-new'),
      (has) => has,
      15_000,
    );
    const viaAnn = await feed(T, 'a4', { k: 1, where: { collection: ['spring'] } });
    expect(viaAnn.body.items).toEqual([expect.objectContaining({ itemId: 'A-new', source: 'ann' })]);
    // its content places it among the action items: an action fan ranks it above a drama fan does
    const score = async (user: string) =>
      (await feed(T, user, { k: 1, where: { collection: ['spring'] } })).body.items[0]!.score;
    expect(await score('a4')).toBeGreaterThan(await score('b4'));
    const drama = await feed(T, 'b4');
    expect(drama.body.items).toContainEqual(expect.objectContaining({ itemId: 'A-new', source: 'fresh' }));
  });
});

describe('community fallback', () => {
  it('serves a new tenant from the community partition, steered through its index by seed items, and says so', async () => {
    const plain = await feed(NEW, 'someone');
    expect(plain.status).toBe(200);
    expect(plain.body.fallback).toBe('community');
    expect(plain.body.items.every((i) => i.itemId.startsWith('C') && i.source !== 'ann')).toBe(true);
    const seeded = await feed(NEW, 'someone', { seedItems: ['C4', 'C8'] });
    expect(seeded.body.fallback).toBe('community');
    expect(seeded.body.indexVersion).toBe(retcons[COMMUNITY]!.version);
    expect(seeded.body.items.some((i) => i.source === 'ann')).toBe(true);
    expect(seeded.body.items.every((i) => i.itemId.startsWith('C'))).toBe(true);
    expect(seeded.body.items.map((i) => i.itemId)).not.toContain('C4'); // the seeds themselves are not recommended
  });

  it('never crosses partitions under random constraints and seeds (1,000 requests)', async () => {
    const rand = seededRandom(8);
    const pick = <X>(xs: readonly X[]) => xs[Math.floor(rand() * xs.length)]!;
    for (let i = 0; i < 1000; i++) {
      const tenant = pick([T, NEW]);
      const body: Record<string, unknown> = { k: 1 + Math.floor(rand() * 20) };
      if (rand() < 0.3)
        body.where = pick([{ genres: ['action'] }, { genres: ['comedy', 'drama'] }, { price: { max: 30 } }]);
      if (rand() < 0.3) body.seedItems = [pick(['A1', 'B2', 'C3', 'C6'])];
      const f = await feed(tenant, pick(['a1', 'b1', 'c1', 'nobody']), body);
      if (f.status === 404) continue; // a user with no activity in the tenant
      expect(f.status).toBe(200);
      const prefix = tenant === T ? /^[AB]/ : /^C/;
      expect(f.body.items.filter((x) => !prefix.test(x.itemId))).toEqual([]);
    }
  });
});

describe('re-ranking', () => {
  it("applies a request's business rules: pin, exclude and boost by attribute", async () => {
    const pinned = await feed(T, 'a3', { k: 5, rules: { pin: ['B30'] } });
    expect(pinned.body.items[0]).toMatchObject({ itemId: 'B30', source: 'pinned', propensity: 1 });
    const noDrama = await feed(T, 'b3', { k: 10, rules: { exclude: [{ attribute: 'genres', values: ['drama'] }] } });
    expect(noDrama.body.items.length).toBe(10);
    expect(noDrama.body.items.filter((i) => i.itemId.startsWith('B'))).toEqual([]);
    const boosted = await feed(T, 'a3', {
      k: 5,
      rules: { boost: [{ attribute: 'genres', value: 'drama', factor: 50 }] },
    });
    expect(boosted.body.items[0]!.itemId.startsWith('B')).toBe(true); // a drama item now leads an action fan's feed
    const bad = await feed(T, 'a3', { rules: { boost: [{ attribute: 'genres', value: 'drama', factor: -1 }] } });
    expect(bad).toMatchObject({ status: 400, body: { field: 'rules' } });
  });

  it("explores in the last slots and reports each position's propensity", async () => {
    const exploring = await startReader(
      {
        ...config,
        rerank: {
          ...config.rerank,
          config: { ...config.rerank.config, exploration: { kind: 'epsilon-greedy', epsilon: 1, slots: 2 } },
        },
      },
      logger,
      createMetrics(false),
      { groupId: `test-${config.suffix}-explore`, port: 0 },
    );
    try {
      await eventually(
        'the exploring reader loads the index',
        async () => exploring.indexes.get(T)?.manifest.version,
        (v) => v === retcons[T]!.version,
        30_000,
      );
      const res = await fetch(`${exploring.url}/v1/feeds`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys[T]}`, 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'a3', k: 6 }),
      });
      const body = (await res.json()) as FeedBody & { items: { propensity: number }[] };
      expect(body.items).toHaveLength(6);
      expect(body.items.slice(0, 4).map((i) => i.propensity)).toEqual([1, 1, 1, 1]);
      for (const i of body.items.slice(4)) {
        expect(i.propensity).toBeGreaterThan(0);
        expect(i.propensity).toBeLessThan(0.2); // uniform over the rest of an 18-item pool
      }
    } finally {
      await exploring.stop();
    }
  });
});

describe('cold start', () => {
  it('serves a brand-new user the non-personal rails, then items near their first clicks', async () => {
    const cold = await feed(T, 'newbie-1');
    expect(cold.status).toBe(200);
    expect(cold.body.items.length).toBe(10);
    expect(cold.body.items.every((i) => i.source !== 'ann')).toBe(true);
    expect(cold.body.indexVersion).toBe('redis-live');
    // first events of the session: drama clicks; before any fold-in vector exists the ANN rail searches near them
    await stack.producer.send(['B1', 'B2', 'B3'].map((item) => click(T, 'newbie-2', item)));
    await stack.caughtUp();
    const warm = await feed(T, 'newbie-2');
    const ann = warm.body.items.filter((i) => i.source === 'ann');
    expect(ann.length).toBeGreaterThan(0);
    expect(ann.filter((i) => i.itemId.startsWith('B')).length).toBeGreaterThanOrEqual(Math.ceil(ann.length * 0.8));
    expect(warm.body.items.map((i) => i.itemId)).not.toContain('B1'); // what they saw is not offered back
  });
});
