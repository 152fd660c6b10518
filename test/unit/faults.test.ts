// The fault suite's own logic (test/faults): the seeded stream and the comparisons its verdicts rest on.
import { describe, expect, it } from 'vitest';
import { validateEvent } from '../../core/events.ts';
import { counterFields, isExpiredField } from '../../core/features/session-features.ts';
import { deadLetter } from '../../streams/dead-letter.ts';
import {
  classifyDeadLetters,
  closeEnough,
  compareHash,
  counterRecomputeSql,
  historyRecomputeSql,
} from '../faults/checks.ts';
import {
  DEFAULT_STREAM,
  INVALID_KINDS,
  INVALID_KIND_NAMES,
  eventStream,
  zipfSampler,
  type Generated,
  type InvalidKind,
} from '../faults/generator.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const small = { ...DEFAULT_STREAM, events: 20_000, invalidShare: 0.01 };

describe('fault stream', () => {
  it('is the same for the same seed and differs for another', () => {
    const a = [...eventStream(small)].slice(0, 200);
    const b = [...eventStream(small)].slice(0, 200);
    const c = [...eventStream({ ...small, seed: small.seed + 1 })].slice(0, 200);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  it('has valid events with unique ids, spread over the tenants and the span, and the requested invalid share of every kind', () => {
    const all: Generated[] = [...eventStream(small)];
    expect(all).toHaveLength(small.events);
    const valid = all.flatMap((g) => (g.kind === 'valid' ? [g.event] : []));
    const invalid = all.flatMap((g) => (g.kind === 'invalid' ? [g] : []));
    expect(invalid.length).toBe(small.events * small.invalidShare);
    for (const e of valid) expect(validateEvent(e, Date.UTC(2026, 0, 6)).ok, e.eventId).toBe(true);
    expect(new Set(valid.map((e) => e.eventId)).size).toBe(valid.length);
    expect(new Set(valid.map((e) => e.tenant)).size).toBe(small.tenants);
    const times = valid.map((e) => e.timestamp);
    expect(Math.min(...times)).toBeGreaterThanOrEqual(small.startMs - 30_000);
    expect(Math.max(...times)).toBeLessThanOrEqual(small.startMs + small.spanMs + 30_000);
    const kinds = new Map<InvalidKind, number>();
    for (const g of invalid) kinds.set(g.invalid, (kinds.get(g.invalid) ?? 0) + 1);
    expect([...kinds.keys()].sort()).toEqual([...INVALID_KIND_NAMES].sort());
    expect(new Set(invalid.map((g) => g.key)).size).toBe(invalid.length);
    const types = new Set(valid.map((e) => e.type));
    expect([...types].sort()).toEqual(['click', 'conversion', 'engagement', 'impression']);
  });

  it('breaks the rule each Avro-level invalid kind names, and validation says so in the expected words', () => {
    const invalid = [...eventStream(small)].flatMap((g) => (g.kind === 'invalid' ? [g] : []));
    for (const kind of ['empty-event-id', 'ancient-timestamp', 'future-timestamp', 'bad-tenant'] as const) {
      const g = invalid.find((x) => x.invalid === kind)!;
      const checked = validateEvent(g.event);
      expect(checked.ok).toBe(false);
      if (!checked.ok)
        expect(`invalid io.rankstream.events.Click: ${checked.error}`).toMatch(INVALID_KINDS[kind].reason);
    }
  });

  it('samples Zipf-distributed ranks, rank 0 the most frequent', () => {
    const sample = zipfSampler(100, 1);
    const r = seededRandom(1);
    const counts = new Array<number>(100).fill(0);
    for (let i = 0; i < 50_000; i++) counts[sample(r())]!++;
    expect(counts[0]!).toBeGreaterThan(counts[1]!);
    expect(counts[1]!).toBeGreaterThan(counts[10]!);
    expect(counts.every((c) => c >= 0)).toBe(true);
  });
});

describe('fault checks', () => {
  it('compareHash: exact counts, extra and missing fields are differences unless a missing field may be pruned', () => {
    const expected = new Map([
      ['c:m:1', 2],
      ['c:h:0', 2],
    ]);
    expect(compareHash('k', expected, { 'c:m:1': '2', 'c:h:0': '2' })).toEqual([]);
    expect(compareHash('k', expected, { 'c:m:1': '3', 'c:h:0': '2' })).toEqual([
      { key: 'k', field: 'c:m:1', expected: 2, actual: 3 },
    ]);
    expect(compareHash('k', expected, { 'c:h:0': '2', 'i:d:0': '1' })).toEqual([
      { key: 'k', field: 'c:m:1', expected: 2, actual: null },
      { key: 'k', field: 'i:d:0', expected: null, actual: 1 },
    ]);
    expect(compareHash('k', expected, { 'c:h:0': '2' }, (f) => f === 'c:m:1')).toEqual([]);
  });

  it('the recomputation SQL names the same counter fields the features processor writes', () => {
    const sql = counterRecomputeSql('db', 'ledger', "o'brien", 'user');
    expect(sql).toContain("tenant = 'o\\'brien'");
    // the buckets of counterFields, e.g. c:m:<5-min bucket>, c:h:<hour>, c:d:<day>
    const fields = counterFields('click', Date.UTC(2026, 0, 5, 8));
    for (const f of fields) expect(sql).toContain(`':${f.split(':')[1]}:'`);
    expect(sql).toContain("event_type = 'click', 'c'");
    expect(counterRecomputeSql('db', 'ledger', 't', 'category')).toContain("has(context_keys, 'category')");
    expect(() => counterRecomputeSql('db; DROP', 'ledger', 't', 'user')).toThrow(/identifier/);
    const hist = historyRecomputeSql('db', 'ledger', 't', 'user', {
      impression: 0,
      click: 1,
      engagement: 3,
      conversion: 5,
    });
    expect(hist).toContain("event_type IN ('click', 'engagement', 'conversion')");
    expect(hist).not.toContain("'impression'");
    expect(isExpiredField(fields[0]!, Date.UTC(2026, 0, 5, 10))).toBe(true);
  });

  it('closeEnough is relative', () => {
    expect(closeEnough(1e6, 1e6 * (1 + 1e-12))).toBe(true);
    expect(closeEnough(1, 1.001)).toBe(false);
  });

  it('classifyDeadLetters: each injected message once with its reason; duplicates, misses, wrong reasons and strangers counted', () => {
    const injected = new Map<string, InvalidKind>([
      ['bad/garbage-bytes/0', 'garbage-bytes'],
      ['bad/empty-value/1', 'empty-value'],
      ['bad/bad-tenant/2', 'bad-tenant'],
    ]);
    const letter = (key: string | null, stage: 'decode' | 'validate' | 'process', reason: string) =>
      deadLetter(
        {
          topic: 't',
          partition: 0,
          offset: '1',
          timestamp: '0',
          key: key === null ? null : Buffer.from(key),
          value: Buffer.from('x'),
        },
        'ledger-writer',
        stage,
        reason,
        null,
      );
    const good = [
      letter('bad/garbage-bytes/0', 'decode', 'not Confluent wire format: expected magic byte 0'),
      letter('bad/empty-value/1', 'decode', 'empty message value'),
      letter('bad/bad-tenant/2', 'validate', 'invalid io.rankstream.events.Click: tenant: must match [a-z0-9]'),
    ];
    const ok = classifyDeadLetters(good, injected);
    expect(ok.ok).toBe(true);
    expect(ok.byKind['garbage-bytes']).toMatchObject({ injected: 1, found: 1, duplicates: 0, wrongReason: 0 });

    const bad = classifyDeadLetters(
      [
        good[0]!,
        good[0]!,
        letter('bad/empty-value/1', 'validate', 'something else'),
        letter('u1', 'process', 'ClickHouse said no'),
      ],
      injected,
    );
    expect(bad.ok).toBe(false);
    expect(bad.byKind['garbage-bytes'].duplicates).toBe(1);
    expect(bad.byKind['empty-value'].wrongReason).toBe(1);
    expect(bad.missing).toBe(1);
    expect(bad.missingSample).toEqual(['bad/bad-tenant/2']);
    expect(bad.unexpected).toBe(1);
    expect(bad.unexpectedSample[0]).toMatchObject({ stage: 'process', key: 'u1' });
  });
});
