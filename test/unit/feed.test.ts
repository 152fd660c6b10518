import { describe, expect, it } from 'vitest';
import { candidatePoolSize, rankFeed } from '../../core/funnel/filters.ts';
import { checkFeedRequest } from '../../core/funnel/feed-request.ts';

const items = ['a', 'b', 'c', 'd', 'e'].map((itemId, i) => ({ itemId, score: 10 - i }));

describe('rankFeed', () => {
  it('drops seen and excluded items and keeps the top k in order', () => {
    const q = { k: 2, seen: new Set(['a']), exclude: new Set(['c']) };
    expect(rankFeed(items, q).map((i) => i.itemId)).toEqual(['b', 'd']);
  });

  it('asks for enough candidates to fill k after the worst-case filtering', () => {
    const q = { k: 3, seen: new Set(['a', 'b']), exclude: new Set(['c']) };
    expect(candidatePoolSize(q)).toBe(6);
    expect(rankFeed(items.slice(0, candidatePoolSize(q)), q).map((i) => i.itemId)).toEqual(['d', 'e']);
  });
});

describe('checkFeedRequest', () => {
  const limits = { defaultK: 10, maxK: 100 };
  it('defaults k and exclusions', () => {
    expect(checkFeedRequest({ tenant: 'acme', userId: 'u1' }, limits)).toEqual({
      ok: true,
      value: {
        tenant: 'acme',
        userId: 'u1',
        k: 10,
        exclude: [],
        where: {},
        seedItems: [],
        rules: { pin: [], boost: [], exclude: [] },
        explain: false,
      },
    });
  });
  it.each([
    [{ tenant: 'acme', userId: 'u1', k: '0' }, 'k'],
    [{ tenant: 'acme', userId: 'u1', k: '1000' }, 'k'],
    [{ tenant: 'acme', userId: 'u1', k: 'ten' }, 'k'],
    [{ tenant: 'acme', userId: 'u1', k: 2.5 }, 'k'],
    [{ tenant: 'ACME; DROP TABLE', userId: 'u1' }, 'tenant'],
    [{ userId: 'u1' }, 'tenant'],
    [{ tenant: 'acme', userId: '' }, 'user'],
    [{ tenant: 'acme', userId: 'u1', exclude: 'a' }, 'exclude'],
  ])('rejects %j naming %s', (input, field) => {
    const r = checkFeedRequest(input, limits);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.field).toBe(field);
      expect(r.error.startsWith(`${field}:`)).toBe(true);
    }
  });
});
