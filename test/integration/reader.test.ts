// The reader over HTTP and Kafka, on state built by the real processors.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { provision } from '../../apps/provision.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import { decodeFeed, registerFeedSchemas, type FeedSchemaIds } from '../../schemas/feed-codec.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import { parseDeadLetter } from '../../streams/dead-letter.ts';
import { createKafka, createProducer } from '../../streams/kafka.ts';
import { isolatedConfig, logger, readTopic, sendEventsAndWait } from '../support/harness.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const config = isolatedConfig('reader');
const A = `alpha-${config.suffix}`.replace(/_/g, '-');
const B = `beta-${config.suffix}`.replace(/_/g, '-');
let kafka: Kafka;
let registry: SchemaRegistryClient;
let processors: RunningProcessors;
let reader: RunningReader;
let feedIds: FeedSchemaIds;

const t0 = Date.UTC(2026, 0, 1);
const itemsOf = {
  [A]: Array.from({ length: 30 }, (_, i) => `a${i}`),
  [B]: Array.from({ length: 30 }, (_, i) => `b${i}`),
};
const seenBy = new Map<string, Set<string>>(); // `${tenant}/${user}` -> items

beforeAll(async () => {
  await provision(config, logger);
  kafka = createKafka(config, logger);
  registry = new SchemaRegistryClient(config.schemaRegistryUrl);
  feedIds = await registerFeedSchemas(registry, config.topics.feedRequests, config.topics.feeds);
  processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
  reader = await startReader(config, logger, createMetrics(false), {
    groupId: `test-${config.suffix}-reader`,
    port: 0,
  });

  // B's items are far more popular than A's: a leak would put them at the top of A's feeds
  const rand = seededRandom(42);
  const events: InteractionEvent[] = [];
  for (const [tenant, clicks] of [
    [A, 300],
    [B, 3000],
  ] as const) {
    for (let i = 0; i < clicks; i++) {
      const user = `u${Math.floor(rand() * 20)}`;
      const item = itemsOf[tenant]![Math.floor(rand() ** 2 * 30)]!;
      events.push({
        type: 'click',
        eventId: `${tenant}-${i}`,
        tenant,
        userId: user,
        itemId: item,
        timestamp: t0 + i * 1000,
        context: {},
        recommendationId: null,
      });
      const key = `${tenant}/${user}`;
      if (!seenBy.has(key)) seenBy.set(key, new Set());
      seenBy.get(key)!.add(item);
    }
  }
  await sendEventsAndWait(config, kafka, events);
});

afterAll(async () => {
  await reader?.stop();
  await processors?.stop();
});

async function get(path: string) {
  const res = await fetch(`${reader.url}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('reader over HTTP', () => {
  it('serves popular items of the tenant minus what the user has seen', async () => {
    const { status, body } = await get(`/v1/feeds/u1?tenant=${A}&k=5`);
    expect(status).toBe(200);
    const items = (body.items as { itemId: string; score: number }[]).map((i) => i.itemId);
    expect(items).toHaveLength(5);
    for (const it of items) {
      expect(itemsOf[A]).toContain(it);
      expect(seenBy.get(`${A}/u1`)!.has(it)).toBe(false);
    }
    const scores = (body.items as { score: number }[]).map((i) => i.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    expect(body).toMatchObject({ tenant: A, user: 'u1', status: 'ok', modelVersion: 'popularity-v1' });
    expect(body.recommendationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('honours exclusions', async () => {
    const first = await get(`/v1/feeds/u1?tenant=${A}&k=3`);
    const top = (first.body.items as { itemId: string }[]).map((i) => i.itemId);
    const second = await get(`/v1/feeds/u1?tenant=${A}&k=3&exclude=${top.join(',')}`);
    const next = (second.body.items as { itemId: string }[]).map((i) => i.itemId);
    expect(next.filter((i) => top.includes(i))).toEqual([]);
  });

  it("never returns another tenant's items or the user's seen items (randomized)", async () => {
    const rand = seededRandom(7);
    for (let i = 0; i < 300; i++) {
      const tenant = rand() < 0.5 ? A : B;
      const user = `u${Math.floor(rand() * 20)}`;
      if (!seenBy.has(`${tenant}/${user}`)) continue;
      const k = 1 + Math.floor(rand() * 40);
      const { status, body } = await get(`/v1/feeds/${user}?tenant=${tenant}&k=${k}`);
      expect(status).toBe(200);
      for (const { itemId } of body.items as { itemId: string }[]) {
        expect(itemsOf[tenant]).toContain(itemId);
        expect(seenBy.get(`${tenant}/${user}`)!.has(itemId)).toBe(false);
      }
    }
  });

  it.each([
    ['/v1/feeds/u1?tenant=nosuchtenant', 404, 'tenant'],
    [`/v1/feeds/u1?tenant=${A}&k=0`, 400, 'k'],
    [`/v1/feeds/u1?tenant=${A}&k=abc`, 400, 'k'],
    [`/v1/feeds/u1?tenant=${A}&k=100000`, 400, 'k'],
    [`/v1/feeds/u1?tenant=${A}&k=1&k=2`, 400, 'k'],
    ['/v1/feeds/u1', 400, 'tenant'],
    ["/v1/feeds/u1?tenant=x'%20OR%201=1", 400, 'tenant'],
    ['/v2/nothing', 404, 'path'],
  ])('GET %s -> %i naming %s', async (path, status, field) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.body.field).toBe(field);
    expect(String(res.body.error)).not.toHaveLength(0);
  });

  it('rejects malformed JSON and non-object bodies naming the body', async () => {
    const bad = await fetch(`${reader.url}/v1/feeds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tenant": ',
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'body' });
    const arr = await fetch(`${reader.url}/v1/feeds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '[1,2]',
    });
    expect(arr.status).toBe(400);
    expect(await arr.json()).toMatchObject({ field: 'body' });
    const ok = await fetch(`${reader.url}/v1/feeds`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: A, user: 'u1', k: 2 }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { items: unknown[] }).items).toHaveLength(2);
  });

  it('reports health and Prometheus metrics', async () => {
    expect((await get('/healthz')).status).toBe(200);
    const metrics = await (await fetch(`${reader.url}/metrics`)).text();
    expect(metrics).toContain('rankstream_feeds_total{channel="http",status="ok"}');
    expect(metrics).toContain('rankstream_http_requests_total');
  });
});

describe('reader over Kafka', () => {
  it('answers each feed request on the feeds topic keyed by user, and dead-letters undecodable requests', async () => {
    const producer = createProducer(kafka);
    await producer.connect();
    const reqs = [
      { requestId: randomUUID(), tenant: A, userId: 'u2', k: 4, exclude: [], timestamp: Date.now() },
      { requestId: randomUUID(), tenant: A, userId: 'ghost', k: 4, exclude: [], timestamp: Date.now() },
      { requestId: randomUUID(), tenant: A, userId: 'u2', k: 0, exclude: [], timestamp: Date.now() },
    ];
    const messages: { key: string; value: Buffer }[] = [{ key: 'junk', value: Buffer.from('garbage') }];
    for (const r of reqs)
      messages.push({ key: `${r.tenant}/${r.userId}`, value: await registry.encode(feedIds.request, r) });
    await producer.send({ topic: config.topics.feedRequests, messages });
    await producer.disconnect();

    const out = await readTopic(config, config.topics.feeds, 3);
    const feeds = await Promise.all(
      out.map(async (m) => ({ key: m.key?.toString(), feed: await decodeFeed(registry, m.value) })),
    );
    const byReq = new Map(feeds.map((f) => [f.feed.requestId, f]));
    const ok = byReq.get(reqs[0]!.requestId)!;
    expect(ok.key).toBe(`${A}/u2`);
    expect(ok.feed.status).toBe('ok');
    expect(ok.feed.items).toHaveLength(4);
    for (const it of ok.feed.items) {
      expect(itemsOf[A]).toContain(it.itemId);
      expect(seenBy.get(`${A}/u2`)!.has(it.itemId)).toBe(false);
    }
    // a user with no activity yet is served the tenant's non-personal rails (cold start), not refused
    const ghost = byReq.get(reqs[1]!.requestId)!.feed;
    expect(ghost.status).toBe('ok');
    expect(ghost.items.length).toBeGreaterThan(0);
    for (const it of ghost.items) expect(itemsOf[A]).toContain(it.itemId);
    expect(byReq.get(reqs[2]!.requestId)!.feed).toMatchObject({ status: 'invalid_request' });
    expect(byReq.get(reqs[2]!.requestId)!.feed.error).toContain('k:');

    const dlq = (await readTopic(config, config.topics.feedRequestsDlq, 1)).map((m) => parseDeadLetter(m.value));
    expect(dlq[0]).toMatchObject({ stage: 'decode', processor: 'feed-reader' });
  });
});
