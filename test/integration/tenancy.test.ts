// Tenancy: the tenant comes from the API key, never from the request; a registered tenant with no data is served from
// the read-only community partition and told so; a randomized 10k-request run finds no item of another tenant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { provision } from '../../apps/provision.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { createApiKey, revokeApiKey } from '../../state/api-keys.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import { createKafka } from '../../streams/kafka.ts';
import { isolatedConfig, logger, sendEventsAndWait } from '../support/harness.ts';

const base = isolatedConfig('tenancy');
const name = (p: string) => `${p}-${base.suffix}`.replace(/_/g, '-');
const A = name('alpha');
const B = name('beta');
const NEW = name('newcomer');
const COMMUNITY = name('community');
const config = { ...base, communityPartition: COMMUNITY };
const itemsOf: Record<string, string[]> = {
  [A]: ['a1', 'a2', 'a3', 'a4', 'a5'],
  [B]: ['b1', 'b2', 'b3', 'b4', 'b5'],
  [COMMUNITY]: ['c1', 'c2', 'c3', 'c4', 'c5'],
};
let redis: Redis;
let processors: RunningProcessors;
let reader: RunningReader;
let strict: RunningReader;
const keys: Record<string, string> = {};

beforeAll(async () => {
  await provision(config, logger);
  redis = createRedis(config);
  processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
  reader = await startReader(config, logger, createMetrics(false), {
    groupId: `test-${config.suffix}-reader`,
    port: 0,
  });
  strict = await startReader({ ...config, authRequired: true }, logger, createMetrics(false), {
    groupId: `test-${config.suffix}-strict`,
    port: 0,
  });
  const kafka = createKafka(config, logger);
  const rand = seededRandom(5);
  const events: InteractionEvent[] = [];
  for (const tenant of [A, B, COMMUNITY]) {
    for (let i = 0; i < 200; i++) {
      const item = itemsOf[tenant]![Math.floor(rand() ** 2 * 5)]!;
      events.push({
        type: 'click',
        eventId: `${tenant}-${i}`,
        tenant,
        userId: `u${i % 10}`,
        itemId: item,
        timestamp: Date.UTC(2026, 4, 1) + i,
        context: {},
        recommendationId: null,
      });
    }
  }
  await sendEventsAndWait(config, kafka, events);
  for (const t of [A, B, NEW]) keys[t] = await createApiKey(redis, t);
});

afterAll(async () => {
  await strict?.stop();
  await reader?.stop();
  await processors?.stop();
  redis?.disconnect();
});

async function get(url: string, path: string, key?: string) {
  const res = await fetch(`${url}${path}`, key ? { headers: { authorization: `Bearer ${key}` } } : {});
  return {
    status: res.status,
    body: (await res.json()) as {
      tenant?: string;
      items?: { itemId: string }[];
      fallback?: string | null;
      field?: string;
    },
  };
}

describe('tenancy', () => {
  it('takes the tenant from the API key and refuses a request naming another tenant', async () => {
    const own = await get(reader.url, '/v1/feeds/u1?k=3', keys[A]);
    expect(own.status).toBe(200);
    expect(own.body.tenant).toBe(A);
    for (const i of own.body.items!) expect(itemsOf[A]).toContain(i.itemId);
    expect(own.body.fallback).toBeNull();
    const other = await get(reader.url, `/v1/feeds/u1?k=3&tenant=${B}`, keys[A]);
    expect(other).toMatchObject({ status: 403, body: { field: 'tenant' } });
    expect(await get(reader.url, '/v1/feeds/u1', 'rsk_not-a-key')).toMatchObject({
      status: 401,
      body: { field: 'authorization' },
    });
    const features = await get(reader.url, `/v1/users/u1/features?tenant=${B}`, keys[A]);
    expect(features.status).toBe(403);
  });

  it('requires a key when configured to, and honours revocation', async () => {
    expect(await get(strict.url, `/v1/feeds/u1?tenant=${A}`)).toMatchObject({
      status: 401,
      body: { field: 'authorization' },
    });
    expect((await get(strict.url, '/v1/feeds/u1', keys[A])).status).toBe(200);
    const temp = await createApiKey(redis, A);
    expect((await get(strict.url, '/v1/feeds/u1', temp)).status).toBe(200);
    expect(await revokeApiKey(redis, temp)).toBe(true);
    expect((await get(strict.url, '/v1/feeds/u1', temp)).status).toBe(401);
  });

  it('serves a registered tenant with no data from the community partition, marked as a fallback', async () => {
    const f = await get(reader.url, '/v1/feeds/anyone?k=4', keys[NEW]);
    expect(f.status).toBe(200);
    expect(f.body).toMatchObject({ tenant: NEW, fallback: 'community' });
    expect(f.body.items!.length).toBe(4);
    for (const i of f.body.items!) expect(itemsOf[COMMUNITY]).toContain(i.itemId);
    // an unregistered tenant named without a key is still unknown
    expect((await get(reader.url, `/v1/feeds/u1?tenant=${name('nobody')}`)).status).toBe(404);
  });

  it('finds no item of another tenant in 10,000 randomized requests', async () => {
    const rand = seededRandom(99);
    const tenants = [A, B, NEW];
    let checked = 0;
    for (let i = 0; i < 10_000; i++) {
      const tenant = tenants[Math.floor(rand() * 3)]!;
      const k = 1 + Math.floor(rand() * 10);
      const { status, body } = await get(reader.url, `/v1/feeds/u${Math.floor(rand() * 10)}?k=${k}`, keys[tenant]);
      expect(status).toBe(200);
      const allowed = tenant === NEW ? itemsOf[COMMUNITY]! : itemsOf[tenant]!;
      expect(body.fallback).toBe(tenant === NEW ? 'community' : null);
      for (const item of body.items!) {
        if (!allowed.includes(item.itemId)) throw new Error(`request ${i}: ${tenant} got ${item.itemId}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(5_000);
  }, 300_000);
});
