// Security on the real services: API keys hashed at rest and rotated (two keys valid during the overlap, the old one
// refused at once on every reader after its revocation), the tenant always the key's (never the body's, query's or a
// header's), a per-key token bucket shared by two reader replicas (429, Retry-After, metric), and no key material in any
// log line written meanwhile (keys created, requests authenticated, refused, rate-limited; the keys CLI).
import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { provision } from '../../apps/provision.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics, type Metrics } from '../../platform/metrics.ts';
import { createRedis, type Redis } from '../../platform/redis.ts';
import { startProcessors, type RunningProcessors } from '../../apps/processors.ts';
import {
  apiKeyId,
  createApiKey,
  hashApiKey,
  listApiKeys,
  resolveApiKey,
  revokeApiKey,
  revokeApiKeyById,
} from '../../state/api-keys.ts';
import { rateLimitKey } from '../../state/keys.ts';
import { startReader, type RunningReader } from '../../apps/reader.ts';
import { createKafka } from '../../streams/kafka.ts';
import { isolatedConfig, sendEventsAndWait } from '../support/harness.ts';
import { sleep } from '../support/wait.ts';

const run = promisify(execFile);
const base = isolatedConfig('security');
const tenantName = (p: string) => `${p}-${base.suffix}`.replace(/_/g, '-');
const A = tenantName('sec-a');
const B = tenantName('sec-b');
const RATE = { perS: 5, burst: 10 };
const config = { ...base, authRequired: true, rateLimit: RATE };

// every log line of the processors and both readers, at trace level
let logs = '';
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    logs += chunk.toString();
    done();
  },
});
const logger = createLogger('trace', 'security-test', sink);

let redis: Redis;
let processors: RunningProcessors;
/** Two replicas sharing one rate limit (RATE), and a third without a limit for the tests that send many requests. */
const readers: RunningReader[] = [];
const metrics: Metrics[] = [createMetrics(false), createMetrics(false)];
let unlimited: RunningReader;
/** Every key this test created, revoked or not: none may appear in a log. */
const secrets: string[] = [];

async function key(tenant: string): Promise<string> {
  const k = await createApiKey(redis, tenant);
  secrets.push(k);
  return k;
}

interface FeedBody {
  tenant?: string;
  user?: string;
  items?: { itemId: string }[];
  field?: string;
  error?: string;
}

async function call(
  reader: RunningReader,
  path: string,
  init: { key?: string; headers?: Record<string, string>; body?: unknown } = {},
) {
  const headers: Record<string, string> = { ...init.headers };
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${reader.url}${path}`, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers,
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as FeedBody };
}

beforeAll(async () => {
  await provision(config, logger);
  redis = createRedis(config);
  processors = await startProcessors(config, logger, createMetrics(false), `test-${config.suffix}`);
  for (const [i, m] of metrics.entries())
    readers.push(await startReader(config, logger, m, { groupId: `test-${config.suffix}-reader-${i}`, port: 0 }));
  unlimited = await startReader({ ...config, rateLimit: { perS: 0, burst: 1 } }, logger, createMetrics(false), {
    groupId: `test-${config.suffix}-reader-open`,
    port: 0,
  });
  const kafka = createKafka(config, logger);
  const events: InteractionEvent[] = [];
  for (const tenant of [A, B]) {
    for (let i = 0; i < 60; i++)
      events.push({
        type: 'click',
        eventId: `${tenant}-${i}`,
        tenant,
        userId: `u${i % 4}`,
        itemId: `${tenant}-item-${i % 6}`,
        timestamp: Date.UTC(2026, 4, 1) + i,
        context: {},
        recommendationId: null,
      });
  }
  await sendEventsAndWait(config, kafka, events);
});

afterAll(async () => {
  for (const r of [...readers, unlimited]) await r?.stop();
  await processors?.stop();
  redis?.disconnect();
});

describe('API keys at rest and their rotation', () => {
  it('stores only hashes, keeps the old and new key valid during the overlap, and refuses the old one everywhere once revoked', async () => {
    const [r1, r2] = readers as [RunningReader, RunningReader];
    const oldKey = await key(A);
    expect(oldKey).toMatch(/^rsk_[A-Za-z0-9_-]{32}$/);
    // at rest: the hash, never the key
    const stored = await redis.hgetall('rs:apikeys');
    expect(stored[hashApiKey(oldKey)]).toBe(A);
    expect(JSON.stringify(stored)).not.toContain(oldKey.slice(4));
    expect(JSON.stringify(await redis.smembers(`rs:{${A}}:apikeys`))).not.toContain(oldKey.slice(4));

    expect((await call(r1, '/v1/feeds/u1?k=3', { key: oldKey })).status).toBe(200);
    // rotation: a second key for the same tenant; both valid on both readers while clients move
    const newKey = await key(A);
    expect(newKey).not.toBe(oldKey);
    for (const r of [r1, r2]) {
      for (const k of [oldKey, newKey])
        expect(await call(r, '/v1/feeds/u1?k=3', { key: k })).toMatchObject({ status: 200, body: { tenant: A } });
    }
    const listed = await listApiKeys(redis, A);
    expect(listed.map((k) => k.id).sort()).toEqual([apiKeyId(hashApiKey(oldKey)), apiKeyId(hashApiKey(newKey))].sort());
    expect(listed[0]!.id).toBe(apiKeyId(hashApiKey(oldKey))); // oldest first
    // revoke the old one: refused at once on both readers (no cache), the new one unaffected
    expect(await revokeApiKey(redis, oldKey)).toBe(true);
    for (const r of [r1, r2]) {
      expect(await call(r, '/v1/feeds/u1?k=3', { key: oldKey })).toMatchObject({
        status: 401,
        body: { field: 'authorization' },
      });
      expect((await call(r, '/v1/feeds/u1?k=3', { key: newKey })).status).toBe(200);
    }
    expect(await revokeApiKey(redis, oldKey)).toBe(false);
    expect(await resolveApiKey(redis, oldKey)).toBeNull();
    // a key whose value is lost is revoked by its id
    expect(await revokeApiKeyById(redis, B, apiKeyId(hashApiKey(newKey)))).toBe(false); // not B's
    expect(await revokeApiKeyById(redis, A, apiKeyId(hashApiKey(newKey)))).toBe(true);
    expect((await call(r2, '/v1/feeds/u1', { key: newKey })).status).toBe(401);
    expect(await listApiKeys(redis, A)).toEqual([]);
    expect(await redis.sismember('rs:registered-tenants', A)).toBe(1); // the tenant stays registered
  });

  it('creates, lists and revokes keys from the CLI without writing the key anywhere but stdout', async () => {
    const env = { ...process.env, REDIS_URL: config.redisUrl, RANKSTREAM_LOG_LEVEL: 'trace' };
    const created = await run('npx', ['tsx', 'cli/keys.ts', 'create', '--tenant', B], { env });
    const cliKey = created.stdout.trim();
    secrets.push(cliKey);
    expect(cliKey).toMatch(/^rsk_/);
    expect(created.stderr).toContain(`created API key ${apiKeyId(hashApiKey(cliKey))} for ${B}`);
    expect(created.stderr).not.toContain(cliKey.slice(4));
    const listed = await run('npx', ['tsx', 'cli/keys.ts', 'list', '--tenant', B], { env });
    expect(listed.stdout).toContain(apiKeyId(hashApiKey(cliKey)));
    expect(listed.stdout + listed.stderr).not.toContain(cliKey.slice(4));
    const revoked = await run(
      'npx',
      ['tsx', 'cli/keys.ts', 'revoke', '--tenant', B, '--id', apiKeyId(hashApiKey(cliKey))],
      { env },
    );
    expect(revoked.stderr.trim()).toBe('revoked');
    expect(await resolveApiKey(redis, cliKey)).toBeNull();
  }, 60_000);
});

describe('the tenant comes from the key', () => {
  it('never from the body, the query or a header, on feeds and features', async () => {
    const r = unlimited;
    const a = await key(A);
    const b = await key(B);
    const own = await call(r, '/v1/feeds/u1?k=5', { key: a });
    expect(own).toMatchObject({ status: 200, body: { tenant: A } });
    for (const i of own.body.items!) expect(i.itemId.startsWith(`${A}-`)).toBe(true);
    // the same user name under the other key is the other tenant's user
    const other = await call(r, '/v1/feeds/u1?k=5', { key: b });
    expect(other.body.tenant).toBe(B);
    for (const i of other.body.items!) expect(i.itemId.startsWith(`${B}-`)).toBe(true);

    expect(await call(r, `/v1/feeds/u1?tenant=${B}`, { key: a })).toMatchObject({
      status: 403,
      body: { field: 'tenant' },
    });
    expect(await call(r, '/v1/feeds', { key: a, body: { tenant: B, user: 'u1' } })).toMatchObject({
      status: 403,
      body: { field: 'tenant' },
    });
    expect(await call(r, '/v1/feeds', { key: a, body: { tenant: null, user: 'u1' } })).toMatchObject({
      status: 403,
      body: { field: 'tenant' },
    });
    expect(await call(r, '/v1/feeds', { key: a, body: { tenant: A, user: 'u1' } })).toMatchObject({
      status: 200,
      body: { tenant: A },
    });
    expect(await call(r, '/v1/feeds', { key: a, body: { user: 'u1' } })).toMatchObject({
      status: 200,
      body: { tenant: A },
    });
    expect(
      await call(r, '/v1/feeds/u1', { key: a, headers: { 'x-tenant': B, 'x-rankstream-tenant': B } }),
    ).toMatchObject({ status: 200, body: { tenant: A } });
    // Authorization wins over x-api-key when both are sent
    expect(await call(r, '/v1/feeds/u1', { key: a, headers: { 'x-api-key': b } })).toMatchObject({
      status: 200,
      body: { tenant: A },
    });
    expect(await call(r, '/v1/feeds/u1', { headers: { 'x-api-key': b } })).toMatchObject({
      status: 200,
      body: { tenant: B },
    });
    // without a key nothing is served, whatever the request names
    expect(await call(r, `/v1/feeds/u1?tenant=${A}`)).toMatchObject({ status: 401, body: { field: 'authorization' } });
    expect(await call(r, '/v1/feeds', { body: { tenant: A, user: 'u1' } })).toMatchObject({
      status: 401,
      body: { field: 'authorization' },
    });
    expect(
      await call(r, `/v1/feeds/u1?tenant=${A}`, {
        headers: { authorization: `Basic ${Buffer.from(`${A}:x`).toString('base64')}` },
      }),
    ).toMatchObject({ status: 401, body: { field: 'authorization' } });
    // features
    expect(await call(r, `/v1/users/u1/features?tenant=${B}`, { key: a })).toMatchObject({
      status: 403,
      body: { field: 'tenant' },
    });
    expect(await call(r, `/v1/items/${B}-item-1/features?tenant=${B}`, { key: a })).toMatchObject({
      status: 403,
      body: { field: 'tenant' },
    });
    expect(await call(r, '/v1/users/u1/features', { key: a })).toMatchObject({ status: 200, body: { tenant: A } });
    expect(await call(r, `/v1/users/u1/features?tenant=${A}`)).toMatchObject({ status: 401 });
  });
});

describe('rate limit per API key', () => {
  it('holds one token bucket across two readers: 429 with Retry-After past the burst, counted per tenant', async () => {
    const [r1, r2] = readers as [RunningReader, RunningReader];
    const limited = await key(A);
    const spare = await key(A);
    const refusedCount = async () =>
      (
        await Promise.all(
          metrics.map(async (m) =>
            (await m.rateLimited.get()).values.filter((v) => v.labels.tenant === A).reduce((s, v) => s + v.value, 0),
          ),
        )
      ).reduce((s, n) => s + n, 0);
    const refusedBefore = await refusedCount();
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => call(i % 2 === 0 ? r1 : r2, '/v1/feeds/u2?k=2', { key: limited })),
    );
    const elapsedS = (Date.now() - started) / 1000;
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 429);
    expect(ok.length + refused.length).toBe(40);
    expect(ok.length).toBeGreaterThanOrEqual(RATE.burst);
    expect(ok.length).toBeLessThanOrEqual(RATE.burst + Math.ceil(RATE.perS * elapsedS) + 1); // both readers drew from one bucket
    for (const r of refused) {
      expect(r.body).toMatchObject({ field: 'authorization', error: expect.stringContaining('rate limit') });
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    for (const r of ok) expect(Number(r.headers.get('x-ratelimit-remaining'))).toBeLessThan(RATE.burst);
    expect((await refusedCount()) - refusedBefore).toBe(refused.length);
    // another key of the same tenant has its own bucket; an unknown key is 401, not 429
    expect((await call(r1, '/v1/feeds/u2?k=2', { key: spare })).status).toBe(200);
    expect((await call(r1, '/v1/feeds/u2?k=2', { key: 'rsk_unknown' })).status).toBe(401);
    // the bucket holds the key's hash, not the key, and expires once idle
    expect(await redis.exists(rateLimitKey(hashApiKey(limited)))).toBe(1);
    expect(await redis.pttl(rateLimitKey(hashApiKey(limited)))).toBeLessThanOrEqual(
      Math.ceil((RATE.burst / RATE.perS) * 1000) + 1000,
    );
    // after Retry-After the key is served again
    await sleep(1000 * Number(refused.at(-1)!.headers.get('retry-after')));
    expect((await call(r2, '/v1/feeds/u2?k=2', { key: limited })).status).toBe(200);
  });
});

describe('no secrets in logs', () => {
  it('writes no key (nor its secret part) in any log line', async () => {
    // more failures worth logging about: unknown, revoked, malformed and rate-limited keys
    const r = readers[1]!;
    const victim = await key(B);
    const near = `${victim.slice(0, -1)}${victim.endsWith('A') ? 'B' : 'A'}`;
    secrets.push(near);
    await call(r, '/v1/feeds/u1', { key: near });
    await call(r, '/v1/feeds/u1', { headers: { authorization: `Token ${victim}` } });
    await call(r, '/v1/feeds/u1', { headers: { 'x-api-key': `${victim}, ${victim}` } });
    for (let i = 0; i < RATE.burst + 3; i++) await call(r, '/v1/feeds/u1', { key: victim });
    await revokeApiKey(redis, victim);
    await call(r, '/v1/feeds/u1', { key: victim });
    await sleep(200);
    expect(logs.length).toBeGreaterThan(1000); // the capture works: startup, consumers, kafkajs…
    for (const s of secrets) {
      expect(logs.includes(s.slice(4)), `key ${apiKeyId(hashApiKey(s))} in the logs`).toBe(false);
    }
  });
});
