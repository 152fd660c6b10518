// Bad input, property-tested (fast-check, fixed seed: set FUZZ_SEED to explore others; a failure prints its seed and
// the shrunk counterexample): the validators never throw, name the field they reject, and accept only what the rules
// allow; SQL literals round-trip; dead letters stay small enough for the broker; the HTTP API answers junk with a 4xx
// naming the field, never a 5xx.
import fc from 'fast-check';
import type { InjectOptions } from 'fastify';
import type { Message, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { validateCatalogItem } from '../../core/catalog.ts';
import { MAX_CLOCK_SKEW_MS, MIN_EVENT_TIME_MS, validateEvent, type InteractionEvent } from '../../core/events.ts';
import { checkFeedRequest } from '../../core/funnel/feed-request.ts';
import { Readiness } from '../../platform/health.ts';
import { createLogger } from '../../platform/logger.ts';
import { createMetrics } from '../../platform/metrics.ts';
import { sqlString } from '../../platform/clickhouse.ts';
import type { FeatureService } from '../../serving/feature-service.ts';
import type { FeedService } from '../../serving/feed-service.ts';
import { apiKeyOf, buildHttpServer } from '../../serving/http.ts';
import {
  deadLetter,
  MAX_LETTER_PAYLOAD_BYTES,
  MAX_REASON_CHARS,
  messageBytes,
  sendInChunks,
  TRUNCATED_PAYLOAD_BYTES,
} from '../../streams/dead-letter.ts';
import { limitRecordSize, requireRegisteredTenant } from '../../streams/input-guards.ts';
import { DecodeError, ValidationError } from '../../schemas/record-errors.ts';
import { FUZZ_SEED, nastyStrings } from '../fuzz-inputs.ts';

const seed = FUZZ_SEED;
const runs = Number(process.env.FUZZ_RUNS ?? 300);
const params = { seed, numRuns: runs };
const now = Date.UTC(2026, 10, 29);

const nastyString = fc.oneof(
  fc.constantFrom(...nastyStrings),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
);

const validClick: InteractionEvent = {
  type: 'click',
  eventId: 'e1',
  tenant: 'acme',
  userId: 'u1',
  itemId: 'i1',
  timestamp: now - 1000,
  context: {},
  recommendationId: null,
};
const eventFields = ['eventId', 'tenant', 'userId', 'itemId', 'timestamp', 'context', 'recommendationId'] as const;
/** Values of the wrong type, or of the right type but out of bounds, for any field. */
const wrongValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -1, 0, 2 ** 53 + 2),
  fc.constant(''),
  fc.constant('y'.repeat(257)),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.integer(), { maxKeys: 3 }),
);

describe('event validation under junk', () => {
  it('never throws on anything, and an accepted value meets every rule', () => {
    fc.assert(
      fc.property(fc.anything(), (candidate) => {
        const r = validateEvent(candidate, now);
        if (r.ok) throw new Error(`accepted ${JSON.stringify(candidate)}`);
        expect(r.error.length).toBeGreaterThan(0);
      }),
      params,
    );
  });

  it('names the field that was broken (a wrong type, a missing field, an out-of-range value)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...eventFields), wrongValue, (field, value) => {
        const candidate: Record<string, unknown> = { ...validClick, [field]: value };
        if (value === undefined) delete candidate[field];
        const r = validateEvent(candidate, now);
        // a few replacements are valid (recommendationId null, a context that is a string map, an in-range number)
        if (r.ok) {
          expect(['recommendationId', 'context', 'timestamp']).toContain(field);
          return;
        }
        expect(r.error).toMatch(new RegExp(`(^|; )${field}(\\.|:)`));
      }),
      params,
    );
  });

  it('accepts any id of 1..256 characters, whatever it contains, and keeps it unchanged', () => {
    fc.assert(
      fc.property(nastyString, nastyString, nastyString, (eventId, userId, itemId) => {
        const r = validateEvent(
          { ...validClick, eventId, userId, itemId, context: { [eventId.slice(0, 128)]: itemId } },
          now,
        );
        expect(r.ok).toBe(true);
        if (r.ok) expect([r.value.eventId, r.value.userId, r.value.itemId]).toEqual([eventId, userId, itemId]);
      }),
      params,
    );
  });

  it('takes timestamps only between 1990 and a day ahead of now', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
          fc.integer({ min: MIN_EVENT_TIME_MS - 10, max: now + MAX_CLOCK_SKEW_MS + 10 }),
        ),
        (timestamp) => {
          const r = validateEvent({ ...validClick, timestamp }, now);
          expect(r.ok).toBe(timestamp >= MIN_EVENT_TIME_MS && timestamp <= now + MAX_CLOCK_SKEW_MS);
          if (!r.ok) expect(r.error).toMatch(/^timestamp: /);
        },
      ),
      params,
    );
  });

  it('refuses a context key "__proto__" by name (a JavaScript object cannot hold it: parsers drop it silently)', () => {
    expect(
      validateEvent({ ...validClick, context: JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string> }, now),
    ).toEqual({ ok: false, error: 'context: the key "__proto__" is not allowed' });
    expect(
      validateCatalogItem(
        {
          tenant: 'acme',
          itemId: 'i',
          attributes: JSON.parse('{"__proto__":["x"]}') as Record<string, string[]>,
          numeric: {},
          createdAt: now,
          updatedAt: now,
          deleted: false,
        },
        now,
      ),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/^attributes: the key "__proto__"/) });
    expect(
      checkFeedRequest({ tenant: 'acme', userId: 'u', where: '{"__proto__":["x"]}' }, { defaultK: 10, maxK: 200 }),
    ).toMatchObject({ ok: false, field: 'where' });
    expect(
      checkFeedRequest(
        { tenant: 'acme', userId: 'u', rules: '{"pin":[],"exclude":[{"attribute":"a","values":["b"],"__proto__":1}]}' },
        { defaultK: 10, maxK: 200 },
      ),
    ).toMatchObject({ ok: false, field: 'rules' });
  });

  it('bounds the context map (64 entries, keys 128, values 1024 characters)', () => {
    const many = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
    expect(validateEvent({ ...validClick, context: many }, now)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^context: more than 64 entries/),
    });
    expect(validateEvent({ ...validClick, context: { k: 'v'.repeat(1025) } }, now)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^context\.k: /),
    });
    expect(validateEvent({ ...validClick, context: { ['k'.repeat(129)]: 'v' } }, now)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^context\./),
    });
  });
});

describe('catalogue item validation under junk', () => {
  const item = {
    tenant: 'acme',
    itemId: 'i1',
    attributes: { genres: ['a'] },
    numeric: { price: 1 },
    createdAt: now - 10,
    updatedAt: now - 5,
    deleted: false,
  };
  it('never throws, and names the broken field', () => {
    fc.assert(
      fc.property(fc.constantFrom(...(Object.keys(item) as (keyof typeof item)[])), wrongValue, (field, value) => {
        const candidate: Record<string, unknown> = { ...item, [field]: value };
        if (value === undefined) delete candidate[field];
        const r = validateCatalogItem(candidate, now);
        if (r.ok) return; // e.g. a numeric map of integers, an in-range time
        expect(r.error).toMatch(new RegExp(`(^|; )${field}(\\.|:)`));
      }),
      params,
    );
    fc.assert(
      fc.property(fc.anything(), (candidate) => {
        expect(validateCatalogItem(candidate, now).ok).toBe(false);
      }),
      params,
    );
  });

  it('refuses attribute names outside [A-Za-z0-9_.-] (they become ClickHouse array entries and Redis fields)', () => {
    for (const bad of ["a'b", 'a b', 'a\nb', '', 'x'.repeat(65)]) {
      expect(validateCatalogItem({ ...item, attributes: { [bad]: ['v'] } }, now)).toMatchObject({
        ok: false,
        error: expect.stringMatching(/^attributes/),
      });
    }
  });
});

describe('feed request validation under junk', () => {
  const limits = { defaultK: 10, maxK: 200 };
  const fields = ['tenant', 'user', 'k', 'exclude', 'where', 'seedItems', 'rules', 'explain', 'request'];
  const junkJson = fc.oneof(
    fc.json(),
    fc.constantFrom(
      '{',
      '{"a":',
      '[]',
      'null',
      '{"__proto__":{"x":1}}',
      `{"category":["'; DROP TABLE items; --"]}`,
      '{"price":{"min":5,"max":1}}',
      '{"a":{"min":"1"}}',
      '{"pin":["x"],"evil":1}',
    ),
    fc.string(),
  );

  it('never throws on any input; a refusal names one of the request fields', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            tenant: fc.oneof(fc.constant('acme'), fc.anything()),
            userId: fc.oneof(nastyString, fc.anything()),
            k: fc.oneof(fc.integer(), fc.anything(), fc.string()),
            exclude: fc.anything(),
            where: junkJson,
            seedItems: fc.anything(),
            rules: junkJson,
            explain: fc.anything(),
          },
          { requiredKeys: [] },
        ),
        (input) => {
          const r = checkFeedRequest(input, limits);
          if (!r.ok) {
            expect(fields).toContain(r.field);
            expect(r.error.startsWith(`${r.field}: `)).toBe(true);
          }
        },
      ),
      params,
    );
  });

  it('accepts k only as an integer 1..maxK (a JSON number or decimal digits), never true, [5], 0x10, 1e2 or 2.5', () => {
    for (const k of [
      true,
      [5],
      '0x10',
      '1e2',
      2.5,
      '2.5',
      0,
      -1,
      201,
      '201',
      '',
      ' ',
      Number.NaN,
      Number.POSITIVE_INFINITY,
      '9'.repeat(30),
      {},
      null,
    ]) {
      const r = checkFeedRequest({ tenant: 'acme', userId: 'u', k }, limits);
      expect(r, `k = ${JSON.stringify(k)}`).toMatchObject({ ok: false, field: 'k' });
    }
    for (const [k, want] of [
      [1, 1],
      [200, 200],
      ['7', 7],
      [' 12 ', 12],
      [undefined, 10],
    ] as const) {
      expect(checkFeedRequest({ tenant: 'acme', userId: 'u', k }, limits)).toMatchObject({
        ok: true,
        value: { k: want },
      });
    }
  });

  it('takes injection strings in ids and constraint values as plain data', () => {
    fc.assert(
      fc.property(nastyString, nastyString, (user, value) => {
        const r = checkFeedRequest(
          {
            tenant: 'acme',
            userId: user,
            where: JSON.stringify({ category: [value.slice(0, 1024)] }),
            rules: JSON.stringify({ pin: [value], exclude: [{ attribute: 'brand', values: [value] }] }),
          },
          limits,
        );
        expect(r).toMatchObject({
          ok: true,
          value: { userId: user, where: { category: { in: [value.slice(0, 1024)] } }, rules: { pin: [value] } },
        });
      }),
      params,
    );
  });
});

/** Reads back a ClickHouse single-quoted literal the way the server does (backslash escapes; a quote ends it). */
function parseClickHouseLiteral(sql: string): { value: string; rest: string } {
  if (sql[0] !== "'") throw new Error('not a literal');
  const simple: Record<string, string> = { b: '\b', f: '\f', r: '\r', n: '\n', t: '\t', '0': '\0', a: '\x07', v: '\v' };
  let out = '';
  for (let i = 1; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'") return { value: out, rest: sql.slice(i + 1) };
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = sql[++i]!;
    if (n === 'x') {
      out += String.fromCharCode(parseInt(sql.slice(i + 1, i + 3), 16));
      i += 2;
    } else out += simple[n] ?? n;
  }
  throw new Error('unterminated literal');
}

describe('sqlString', () => {
  it('round-trips any string as one literal with nothing after it (no way out of the quotes)', () => {
    fc.assert(
      fc.property(fc.oneof(nastyString, fc.string({ unit: 'binary', maxLength: 300 })), (s) => {
        const parsed = parseClickHouseLiteral(sqlString(s));
        expect(parsed).toEqual({ value: s, rest: '' });
      }),
      { ...params, numRuns: runs * 3 },
    );
  });
});

describe('dead letters stay within the broker limit', () => {
  const source = { topic: 't', partition: 0, offset: '5', timestamp: '0' };
  it('keeps a payload whole up to the limit and cuts a larger one to its head, with size and sha256', () => {
    const small = deadLetter(
      { ...source, key: Buffer.from('k'), value: Buffer.alloc(MAX_LETTER_PAYLOAD_BYTES, 1) },
      'p',
      'decode',
      'r',
      null,
    );
    expect(small.payloadTruncated).toBeUndefined();
    expect(Buffer.from(small.payload!, 'base64').length).toBe(MAX_LETTER_PAYLOAD_BYTES);
    const big = deadLetter(
      { ...source, key: Buffer.alloc(100_000, 2), value: Buffer.alloc(900 * 1024, 1) },
      'p',
      'decode',
      'x'.repeat(100_000),
      null,
    );
    expect(big).toMatchObject({
      payloadTruncated: true,
      payloadBytes: 900 * 1024,
      payloadSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(Buffer.from(big.payload!, 'base64').length).toBe(TRUNCATED_PAYLOAD_BYTES);
    expect(big.reason.length).toBeLessThan(MAX_REASON_CHARS + 100);
    expect(JSON.stringify(big).length).toBeLessThan(300 * 1024);
  });

  it('publishes in sends under the byte bound, in order', async () => {
    const sends: Message[][] = [];
    const producer = {
      send: async ({ messages }: { messages: Message[] }) => void sends.push(messages),
    } as unknown as Producer;
    const messages = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(50_000 + i) }));
    await sendInChunks(producer, 't', messages, 512 * 1024);
    expect(sends.flat().map((m) => m.key)).toEqual(messages.map((m) => m.key));
    for (const s of sends) expect(s.reduce((n, m) => n + messageBytes(m), 0)).toBeLessThanOrEqual(512 * 1024);
    const huge = [
      { key: 'a', value: Buffer.alloc(700 * 1024) },
      { key: 'b', value: 'x' },
    ];
    sends.length = 0;
    await sendInChunks(producer, 't', huge, 512 * 1024);
    expect(sends.map((s) => s.length)).toEqual([1, 1]);
  });
});

describe('input guards', () => {
  const message = (bytes: number) => ({
    key: Buffer.from('k'),
    value: Buffer.alloc(bytes),
    offset: '0',
    timestamp: '0',
    attributes: 0,
    headers: {},
  });
  it('rejects a record over the size limit before decoding it', async () => {
    let decoded = 0;
    const decode = limitRecordSize(async () => ({ value: ++decoded, schemaId: 1 }), 1000);
    await expect(decode(message(999))).resolves.toMatchObject({ value: 1 });
    const err = await decode(message(1000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as Error).message).toBe('record of 1001 bytes exceeds MAX_RECORD_BYTES (1000)');
    expect(decoded).toBe(1);
  });

  it('rejects an unregistered tenant, asking again for each record until it is registered', async () => {
    const registered = new Set(['acme']);
    let asked = 0;
    const decode = requireRegisteredTenant(
      async (m) => ({ value: { tenant: m.key!.toString() }, schemaId: 3 }),
      async (t) => (asked++, registered.has(t)),
      ['community'],
    );
    const of = (tenant: string) => ({ ...message(1), key: Buffer.from(tenant) });
    await expect(decode(of('acme'))).resolves.toMatchObject({ value: { tenant: 'acme' } });
    await expect(decode(of('acme'))).resolves.toBeDefined();
    await expect(decode(of('community'))).resolves.toBeDefined();
    expect(asked).toBe(1);
    const err = await decode(of('typo')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toMatch(/^tenant: "typo" is not registered/);
    expect((err as ValidationError).schemaId).toBe(3);
    registered.add('typo');
    await expect(decode(of('typo'))).resolves.toBeDefined();
  });
});

describe('API key headers', () => {
  it('reads Bearer and x-api-key, refuses any other form of credential', () => {
    expect(apiKeyOf({})).toEqual({ key: null });
    expect(apiKeyOf({ authorization: 'Bearer rsk_abc' })).toEqual({ key: 'rsk_abc' });
    expect(apiKeyOf({ authorization: 'bearer  rsk_abc ' })).toEqual({ key: 'rsk_abc' });
    expect(apiKeyOf({ 'x-api-key': ' rsk_abc ' })).toEqual({ key: 'rsk_abc' });
    for (const authorization of ['Basic abc', 'Bearer', 'Bearer ', 'rsk_abc', 'Bearer a b', 'Token rsk_abc'])
      expect(apiKeyOf({ authorization }), authorization).toHaveProperty('error');
    for (const x of ['', ' ', 'a, b', 'a b']) expect(apiKeyOf({ 'x-api-key': x }), x).toHaveProperty('error');
    expect(apiKeyOf({ 'x-api-key': ['a', 'b'] })).toHaveProperty('error');
  });
});

describe('HTTP API under junk (no services: a stub feed service)', () => {
  const served: unknown[] = [];
  const feeds = { feed: async (v: unknown) => (served.push(v), { status: 'ok', items: [] }) } as unknown as FeedService;
  const features = {
    tenantKnown: async () => true,
    user: async () => ({}),
    item: async () => ({}),
  } as unknown as FeatureService;
  const app = buildHttpServer({
    feeds,
    features,
    limits: { defaultK: 10, maxK: 200 },
    metrics: createMetrics(false),
    logger: createLogger('silent', 'test'),
    readiness: new Readiness([]),
    resolveApiKey: async (k) => (k === 'rsk_good' ? 'acme' : null),
    authRequired: false,
  });

  const cases: { name: string; req: InjectOptions; status: number; field: string }[] = [
    {
      name: 'malformed JSON',
      req: { method: 'POST', url: '/v1/feeds', headers: { 'content-type': 'application/json' }, payload: '{"user":' },
      status: 400,
      field: 'body',
    },
    {
      name: 'empty JSON body',
      req: { method: 'POST', url: '/v1/feeds', headers: { 'content-type': 'application/json' }, payload: '' },
      status: 400,
      field: 'body',
    },
    {
      name: 'prototype pollution',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: '{"__proto__":{"admin":true},"user":"u","tenant":"acme"}',
      },
      status: 400,
      field: 'body',
    },
    {
      name: 'JSON array body',
      req: { method: 'POST', url: '/v1/feeds', headers: { 'content-type': 'application/json' }, payload: '[]' },
      status: 400,
      field: 'body',
    },
    {
      name: 'text body',
      req: { method: 'POST', url: '/v1/feeds', headers: { 'content-type': 'text/plain' }, payload: 'user=u' },
      status: 400,
      field: 'body',
    },
    {
      name: 'XML content type',
      req: { method: 'POST', url: '/v1/feeds', headers: { 'content-type': 'application/xml' }, payload: '<a/>' },
      status: 415,
      field: 'body',
    },
    {
      name: 'form content type',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'user=u',
      },
      status: 415,
      field: 'body',
    },
    {
      name: 'oversized body',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ user: 'u', exclude: Array(20_000).fill('item') }),
      },
      status: 413,
      field: 'body',
    },
    { name: 'huge k', req: { method: 'GET', url: '/v1/feeds/u?tenant=acme&k=1000000000' }, status: 400, field: 'k' },
    {
      name: 'k as a boolean',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: '{"tenant":"acme","user":"u","k":true}',
      },
      status: 400,
      field: 'k',
    },
    { name: 'k twice', req: { method: 'GET', url: '/v1/feeds/u?tenant=acme&k=1&k=2' }, status: 400, field: 'k' },
    {
      name: 'user as a number',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: '{"tenant":"acme","user":5}',
      },
      status: 400,
      field: 'user',
    },
    {
      name: 'missing user',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: '{"tenant":"acme"}',
      },
      status: 400,
      field: 'user',
    },
    {
      name: 'user of 257 characters',
      req: { method: 'GET', url: `/v1/feeds/${'u'.repeat(257)}?tenant=acme` },
      status: 400,
      field: 'user',
    },
    {
      name: 'path parameter far too long',
      req: { method: 'GET', url: `/v1/feeds/${'u'.repeat(5000)}?tenant=acme` },
      status: 414,
      field: 'path',
    },
    {
      name: 'broken percent-encoding',
      req: { method: 'GET', url: '/v1/feeds/%E0%A4%A?tenant=acme' },
      status: 400,
      field: 'path',
    },
    {
      name: 'SQL in the tenant',
      req: { method: 'GET', url: `/v1/feeds/u?tenant=${encodeURIComponent("acme' OR '1'='1")}` },
      status: 400,
      field: 'tenant',
    },
    {
      name: 'where not JSON',
      req: { method: 'GET', url: '/v1/feeds/u?tenant=acme&where=%7B' },
      status: 400,
      field: 'where',
    },
    {
      name: 'where with SQL as an attribute name',
      req: {
        method: 'GET',
        url: `/v1/feeds/u?tenant=acme&where=${encodeURIComponent(JSON.stringify({ "x') OR 1=1 --": ['a'] }))}`,
      },
      status: 400,
      field: 'where',
    },
    {
      name: 'rules with an unknown key',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ tenant: 'acme', user: 'u', rules: { pin: [], drop: 'table' } }),
      },
      status: 400,
      field: 'rules',
    },
    {
      name: 'boost factor of a string',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({
          tenant: 'acme',
          user: 'u',
          rules: { boost: [{ attribute: 'a', value: 'b', factor: '1e9' }] },
        }),
      },
      status: 400,
      field: 'rules',
    },
    {
      name: 'exclude as a string',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json' },
        payload: '{"tenant":"acme","user":"u","exclude":"a"}',
      },
      status: 400,
      field: 'exclude',
    },
    {
      name: 'explain as a number',
      req: { method: 'GET', url: '/v1/feeds/u?tenant=acme&explain=1' },
      status: 400,
      field: 'explain',
    },
    {
      name: 'another auth scheme',
      req: { method: 'GET', url: '/v1/feeds/u?tenant=acme', headers: { authorization: 'Basic YWNtZTpwdw==' } },
      status: 401,
      field: 'authorization',
    },
    {
      name: 'unknown key',
      req: { method: 'GET', url: '/v1/feeds/u', headers: { authorization: 'Bearer rsk_nope' } },
      status: 401,
      field: 'authorization',
    },
    {
      name: 'huge key',
      req: { method: 'GET', url: '/v1/feeds/u', headers: { 'x-api-key': 'k'.repeat(5000) } },
      status: 401,
      field: 'authorization',
    },
    {
      name: 'key naming another tenant in the body',
      req: {
        method: 'POST',
        url: '/v1/feeds',
        headers: { 'content-type': 'application/json', authorization: 'Bearer rsk_good' },
        payload: '{"tenant":"other","user":"u"}',
      },
      status: 403,
      field: 'tenant',
    },
    {
      name: 'features: item id too long',
      req: { method: 'GET', url: `/v1/items/${'i'.repeat(300)}/features?tenant=acme` },
      status: 400,
      field: 'item',
    },
    {
      name: 'features: tenant twice',
      req: { method: 'GET', url: '/v1/users/u/features?tenant=acme&tenant=other' },
      status: 400,
      field: 'tenant',
    },
    { name: 'unknown route', req: { method: 'DELETE', url: '/v1/feeds' }, status: 404, field: 'path' },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status} naming ${c.field}`, async () => {
      const res = await app.inject(c.req);
      expect({ status: res.statusCode, body: res.json() as unknown }).toMatchObject({
        status: c.status,
        body: { field: c.field, error: expect.any(String) },
      });
    });
  }

  it('answers random junk requests with a JSON 4xx naming a field, or a 200 only for a valid request; never a 5xx', async () => {
    const path = fc
      .oneof(fc.constant('/v1/feeds/'), fc.constant('/v1/users/'), fc.constant('/v1/items/'))
      .chain((p) => fc.tuple(fc.constant(p), nastyString));
    const junk = fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
      target: path,
      query: fc.array(
        fc.tuple(
          fc.constantFrom('tenant', 'k', 'where', 'rules', 'exclude', 'seed', 'explain', 'category', 'x'),
          fc.oneof(nastyString, fc.json()),
        ),
        { maxLength: 4 },
      ),
      contentType: fc.constantFrom(
        undefined,
        'application/json',
        'text/plain',
        'application/octet-stream',
        'application/json; charset=utf-16',
        'multipart/form-data',
      ),
      body: fc.oneof(
        fc.constant(undefined),
        fc.json(),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.jsonValue().map((v) => JSON.stringify({ tenant: 'acme', user: 'u', where: v, rules: v, k: v })),
      ),
      key: fc.constantFrom(undefined, 'Bearer rsk_good', 'Bearer rsk_bad', 'Basic x', ''),
    });
    await fc.assert(
      fc.asyncProperty(junk, async (j) => {
        const qs = j.query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
        const url = `${j.target[0]}${encodeURIComponent(j.target[1])}${j.target[0] === '/v1/feeds/' ? '' : '/features'}${qs ? `?${qs}` : ''}`;
        const headers: Record<string, string> = {};
        if (j.contentType) headers['content-type'] = j.contentType;
        if (j.key !== undefined) headers.authorization = j.key;
        const res = await app.inject({
          method: j.method,
          url,
          headers,
          ...(j.body === undefined || j.method === 'GET' ? {} : { payload: j.body }),
        });
        expect(res.statusCode).toBeLessThan(500);
        const body = res.json<{ field?: unknown; error?: unknown }>();
        if (res.statusCode >= 400) {
          expect(typeof body.error).toBe('string');
          expect(typeof body.field).toBe('string');
        }
      }),
      { ...params, numRuns: runs * 2 },
    );
  });
});
