// A randomized cross-tenant test: CROSS_TENANT_REQUESTS (5,000 here, 100,000 with `npm run test:cross-tenant`) requests over several tenants that share
// user names, attribute values and item-id shapes, each with its own events, catalogue, ALS model and HNSW index, plus a
// registered tenant with no data (served from the community partition). Requests go in-process (Fastify inject, 32 in
// flight) through the whole reader: API-key auth and the per-key rate limit (on, with a high limit), every feed rail,
// filters, seeds and exclusions naming other tenants' items, explanations, user and item features. A leak is any item,
// recent item or tenant name of another partition in a response, or non-zero features for another tenant's item; that
// includes another tenant's item named in rules.pin (a tenant with a catalogue gets pins of its own items only).
// Prints a JSON summary (also written to .rankstream/security/cross-tenant.json). Seeded: FUZZ_SEED.
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../core/catalog.ts';
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { trainTenantAls } from '../../jobs/als-training.ts';
import { retconTenant } from '../../jobs/retcon.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { createApiKey } from '../../state/api-keys.ts';
import { ItemProducer } from '../../streams/item-producer.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { FUZZ_SEED } from '../fuzz-inputs.ts';
import { isolatedConfig, logger, startStack, type Stack } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

// 5,000 in the integration suite (~20 s here); `npm run test:cross-tenant` runs 100,000 (about 6 minutes on 2 cores)
const REQUESTS = Number(process.env.CROSS_TENANT_REQUESTS ?? 5_000);
const CONCURRENCY = 32;
const base = isolatedConfig('xtenant', {
  AUTH_REQUIRED: 'true',
  RATE_LIMIT_PER_S: '1000000',
  RATE_LIMIT_BURST: '1000000',
});
const name = (p: string) => `${p}-${base.suffix}`.replace(/_/g, '-');
const DATA_TENANTS = ['red', 'green', 'blue', 'gold'].map(name);
const COMMUNITY = name('commons');
const EMPTY = name('newcomer'); // registered, no data: served from COMMUNITY
const config = { ...base, communityPartition: COMMUNITY };
const PARTITIONS = [...DATA_TENANTS, COMMUNITY];
const USERS = 30;
const ITEMS = 40;
const GENRES = ['drama', 'comedy', 'action', 'docs'];
const DAY = 86_400_000;
const t0 = Date.UTC(2026, 6, 1);
/** Items are named <partition>:item-<n>, so the partition of any returned item is readable from its id. */
const itemId = (partition: string, n: number) => `${partition}:item-${n}`;
const partitionOf = (id: string) => id.slice(0, id.indexOf(':'));

let stack: Stack;
const keys: Record<string, string> = {};

beforeAll(async () => {
  stack = await startStack(config);
  const items = await ItemProducer.connect(
    stack.kafka,
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.items,
  );
  const rand = seededRandom(FUZZ_SEED);
  const catalog: CatalogItem[] = [];
  const events: InteractionEvent[] = [];
  let seq = 0;
  for (const p of PARTITIONS) {
    for (let i = 0; i < ITEMS; i++) {
      // the same attribute values everywhere: a constraint must not reach across tenants
      catalog.push({
        tenant: p,
        itemId: itemId(p, i),
        attributes: { genres: [GENRES[i % GENRES.length]!], title: [`story ${i}`] },
        numeric: { price: i },
        createdAt: i < 10 ? t0 - DAY : t0 - 60 * DAY,
        updatedAt: Date.now(),
        deleted: false,
      });
    }
    for (let u = 0; u < USERS; u++) {
      for (let j = 0; j < 12; j++) {
        const item = itemId(p, (u * 3 + Math.floor(rand() * 8) + (u % GENRES.length) * 7) % ITEMS);
        events.push({
          type: 'click',
          eventId: `${p}-${seq++}`,
          tenant: p,
          userId: `u${u}`,
          itemId: item,
          timestamp: t0 + seq * 1000,
          context: {},
          recommendationId: null,
        });
      }
    }
  }
  await items.send(catalog);
  await items.disconnect();
  for (let i = 0; i < events.length; i += 1000) await stack.producer.send(events.slice(i, i + 1000));
  await stack.caughtUp();
  await waitForCaughtUp(stack.admin, [`test-${config.suffix}-catalog`], config.topics.items, 60_000);
  const { clickhouse, redis, models, artifacts } = stack;
  const versions: Record<string, string> = {};
  for (const p of PARTITIONS) {
    await trainTenantAls({ config, clickhouse, models, scalerVersion: async () => null, logger }, { tenant: p });
    versions[p] = (
      await retconTenant({ config, clickhouse, redis, models, artifacts, logger }, { tenant: p })
    ).result.version;
  }
  for (const t of [...DATA_TENANTS, EMPTY]) keys[t] = await createApiKey(redis, t);
  for (const p of PARTITIONS)
    await eventually(
      `reader on ${p}'s index`,
      async () => stack.reader.indexes.get(p)?.manifest.version,
      (v) => v === versions[p],
      30_000,
    );
}, 300_000);

afterAll(async () => {
  await stack?.stop();
});

interface Body {
  tenant?: string;
  item?: string;
  items?: { itemId: string; source: string; score: number; explanation?: unknown }[];
  recentItems?: string[];
  fallback?: string | null;
  windows?: Record<string, Record<string, number>>;
  popularity?: number;
  field?: string;
}

describe('cross-tenant isolation', () => {
  it(`finds no other tenant's data in ${REQUESTS.toLocaleString('en')} randomized requests`, async () => {
    const rand = seededRandom(FUZZ_SEED + 1);
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
    const anyItem = () => itemId(pick(PARTITIONS), Math.floor(rand() * ITEMS));
    const tenants = [...DATA_TENANTS, EMPTY];
    const counts = {
      requests: 0,
      ok: 0,
      refusedOtherTenant: 0,
      unauthorized: 0,
      unknownTenant: 0,
      badRequest: 0,
      rateLimited: 0,
      other: 0,
      itemsChecked: 0,
      featureReadsChecked: 0,
      leaks: 0,
    };
    const byKind: Record<string, number> = {};
    const leaks: string[] = [];
    const leak = (what: string) => {
      counts.leaks++;
      if (leaks.length < 20) leaks.push(what);
    };

    async function one(i: number): Promise<void> {
      const tenant = pick(tenants);
      const served = tenant === EMPTY ? COMMUNITY : tenant;
      const others = PARTITIONS.filter((p) => p !== served && p !== tenant).concat(tenant === EMPTY ? [] : [EMPTY]);
      const user = `u${Math.floor(rand() * (USERS + 5))}`; // the same names exist in every tenant, some users are new
      const r = rand();
      const kind =
        r < 0.45
          ? 'get-feed'
          : r < 0.8
            ? 'post-feed'
            : r < 0.9
              ? 'user-features'
              : r < 0.97
                ? 'item-features'
                : r < 0.99
                  ? 'name-other-tenant'
                  : 'bad-key';
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      const headers: Record<string, string> = {
        authorization: `Bearer ${kind === 'bad-key' ? `rsk_${i.toString(36)}` : keys[tenant]}`,
      };
      const k = 1 + Math.floor(rand() * 20);
      const where =
        rand() < 0.3
          ? { genres: [pick(GENRES)] }
          : rand() < 0.1
            ? { price: { max: Math.floor(rand() * ITEMS) } }
            : undefined;
      const seeds = rand() < 0.3 ? [anyItem(), anyItem()] : [];
      const exclude = rand() < 0.3 ? [anyItem(), anyItem(), anyItem()] : [];
      const rules =
        rand() < 0.15
          ? { pin: [anyItem()], boost: [{ attribute: 'genres', value: pick(GENRES), factor: 2 }] }
          : undefined;
      const explain = rand() < 0.1;
      let res;
      let requestedItem: string | null = null;
      if (kind === 'get-feed' || kind === 'bad-key') {
        const qs = new URLSearchParams({
          k: String(k),
          ...(where ? { where: JSON.stringify(where) } : {}),
          ...(seeds.length ? { seed: seeds.join(',') } : {}),
          ...(exclude.length ? { exclude: exclude.join(',') } : {}),
          ...(explain ? { explain: 'true' } : {}),
        });
        res = await stack.reader.http.inject({ method: 'GET', url: `/v1/feeds/${user}?${qs}`, headers });
      } else if (kind === 'post-feed') {
        res = await stack.reader.http.inject({
          method: 'POST',
          url: '/v1/feeds',
          headers,
          payload: { user, k, where, seedItems: seeds, exclude, rules, explain },
        });
      } else if (kind === 'user-features') {
        res = await stack.reader.http.inject({ method: 'GET', url: `/v1/users/${user}/features`, headers });
      } else if (kind === 'item-features') {
        requestedItem = anyItem();
        res = await stack.reader.http.inject({
          method: 'GET',
          url: `/v1/items/${encodeURIComponent(requestedItem)}/features?category=${pick(GENRES)}`,
          headers,
        });
      } else {
        const target = pick(PARTITIONS.filter((p) => p !== tenant));
        res =
          rand() < 0.5
            ? await stack.reader.http.inject({ method: 'GET', url: `/v1/feeds/${user}?tenant=${target}`, headers })
            : await stack.reader.http.inject({
                method: 'POST',
                url: '/v1/feeds',
                headers,
                payload: { tenant: target, user },
              });
      }
      counts.requests++;
      const body = res.json<Body>();
      if (res.statusCode === 200) counts.ok++;
      else if (res.statusCode === 403) counts.refusedOtherTenant++;
      else if (res.statusCode === 401) counts.unauthorized++;
      else if (res.statusCode === 404) counts.unknownTenant++;
      else if (res.statusCode === 400) counts.badRequest++;
      else if (res.statusCode === 429) counts.rateLimited++;
      else counts.other++;

      // what each kind must get
      const expected =
        kind === 'name-other-tenant'
          ? 403
          : kind === 'bad-key'
            ? 401
            : kind === 'user-features' || kind === 'item-features'
              ? tenant === EMPTY
                ? 404
                : 200
              : 200;
      if (res.statusCode !== expected)
        leak(
          `request ${i} (${kind}, ${tenant}): status ${res.statusCode}, expected ${expected}: ${res.body.slice(0, 200)}`,
        );
      if (res.statusCode !== 200) return;
      if (body.tenant !== tenant) leak(`request ${i}: served as ${body.tenant}, key of ${tenant}`);
      const own = { ...body, item: requestedItem ? undefined : body.item };
      // nothing of another partition anywhere else in the body (an item-features request echoes the item it asked for)
      const text = JSON.stringify(own);
      for (const o of others)
        if (text.includes(o)) leak(`request ${i} (${kind}, ${tenant}): ${o} in ${text.slice(0, 300)}`);
      for (const it of own.items ?? []) {
        counts.itemsChecked++;
        if (partitionOf(it.itemId) !== served) leak(`request ${i} (${kind}, ${tenant}): item ${it.itemId}`);
      }
      if (body.items && body.fallback !== (tenant === EMPTY ? 'community' : null))
        leak(`request ${i}: fallback ${body.fallback} for ${tenant}`);
      for (const it of body.recentItems ?? []) {
        counts.featureReadsChecked++;
        if (partitionOf(it) !== served) leak(`request ${i}: recent item ${it} for ${tenant}`);
      }
      if (requestedItem && partitionOf(requestedItem) !== tenant) {
        counts.featureReadsChecked++;
        const windows = Object.values(body.windows ?? {}).flatMap((w) => Object.values(w));
        if ((body.popularity ?? 0) !== 0 || windows.some((n) => n !== 0))
          leak(`request ${i}: features of ${requestedItem} under ${tenant}: ${text.slice(0, 300)}`);
      }
    }

    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) await one(next++);
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const summary = {
      ...counts,
      seconds: Number(seconds.toFixed(1)),
      requestsPerSecond: Math.round(counts.requests / seconds),
      byKind,
      tenants: tenants.length,
      partitions: PARTITIONS.length,
      concurrency: CONCURRENCY,
      seed: FUZZ_SEED,
      leakSamples: leaks,
    };
    console.log(`cross-tenant summary: ${JSON.stringify(summary)}`);
    mkdirSync(`${config.dataDir}/security`, { recursive: true });
    writeFileSync(`${config.dataDir}/security/cross-tenant.json`, `${JSON.stringify(summary, null, 2)}\n`);
    expect(leaks).toEqual([]);
    expect(counts.requests).toBe(REQUESTS);
    expect(counts.itemsChecked).toBeGreaterThan(REQUESTS * 5);
  }, 900_000);
});
