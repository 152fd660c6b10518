import { describe, expect, it } from 'vitest';
import { DEFAULT_RERANK, rerank, type RerankConfig, type RerankItem } from '../../core/funnel/rerank.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

const NOW = Date.UTC(2026, 10, 1);
const item = (itemId: string, rank: number, category: string | null, extra: Partial<RerankItem> = {}): RerankItem => ({
  itemId,
  rank,
  source: 'ann',
  category,
  attributes: category ? { category: [category] } : {},
  createdAt: null,
  shows: 0,
  clicks: 0,
  ...extra,
});
const pool = [item('a1', 0, 'A'), item('a2', 1, 'A'), item('a3', 2, 'A'), item('b1', 3, 'B'), item('c1', 4, 'C')];
const cfg = (over: Partial<RerankConfig>): RerankConfig => ({ ...DEFAULT_RERANK, ...over });
const ids = (xs: { itemId: string }[]) => xs.map((x) => x.itemId);

describe('re-ranking', () => {
  it('keeps the pool order with relevance only, every position deterministic', () => {
    const out = rerank(pool, 3, DEFAULT_RERANK, seededRandom(1), NOW);
    expect(ids(out)).toEqual(['a1', 'a2', 'a3']);
    expect(out.every((p) => p.propensity === 1 && p.slot === 'exploit')).toBe(true);
  });

  it('diversifies by maximal marginal relevance as lambda drops', () => {
    expect(ids(rerank(pool, 3, cfg({ mmrLambda: 0.5 }), seededRandom(1), NOW))).toEqual(['a1', 'b1', 'c1']);
    expect(ids(rerank(pool, 3, cfg({ mmrLambda: 0.9 }), seededRandom(1), NOW))).toEqual(['a1', 'a2', 'a3']); // relevance still wins
  });

  it('caps items per category, leaving the rest of the feed to others', () => {
    expect(ids(rerank(pool, 4, cfg({ maxPerCategory: 2 }), seededRandom(1), NOW))).toEqual(['a1', 'a2', 'b1', 'c1']);
  });

  it('applies business rules: exclude by attribute, boost by attribute, pin first', () => {
    const rules = {
      pin: ['c1', 'missing'],
      boost: [{ attribute: 'category', value: 'B', factor: 10 }],
      exclude: [{ attribute: 'category', values: ['A'] }],
    };
    const out = rerank(pool, 3, cfg({ rules }), seededRandom(1), NOW);
    expect(ids(out)).toEqual(['c1', 'b1']); // A excluded; only two items remain
    expect(out[0]).toMatchObject({ slot: 'pinned', propensity: 1 });
    const boosted = rerank(
      pool,
      2,
      cfg({ rules: { pin: [], boost: [{ attribute: 'category', value: 'C', factor: 10 }], exclude: [] } }),
      seededRandom(1),
      NOW,
    );
    expect(ids(boosted)).toEqual(['c1', 'a1']);
  });

  it('lifts a brand-new item by the freshness boost, and not an old one', () => {
    const withAges = [
      item('old', 0, 'A', { createdAt: NOW - 30 * 86_400_000 }),
      item('new', 2, 'B', { createdAt: NOW - 60_000 }),
      item('mid', 1, 'C'),
    ];
    expect(ids(rerank(withAges, 1, cfg({ freshnessBoost: 3 }), seededRandom(1), NOW))).toEqual(['new']); // relevance 1/3 × (1 + 3)
    expect(ids(rerank(withAges, 1, DEFAULT_RERANK, seededRandom(1), NOW))).toEqual(['old']);
  });

  it('explores epsilon-greedily in the last slots with propensities that match how often each item lands there', () => {
    const e = cfg({ exploration: { kind: 'epsilon-greedy', epsilon: 0.3, slots: 1 } });
    const counts = new Map<string, number>();
    const propensity = new Map<string, number>();
    const runs = 20_000;
    const random = seededRandom(7);
    for (let r = 0; r < runs; r++) {
      const out = rerank(pool, 2, e, random, NOW);
      expect(out[0]).toMatchObject({ itemId: 'a1', propensity: 1 });
      const last = out[1]!;
      counts.set(last.itemId, (counts.get(last.itemId) ?? 0) + 1);
      propensity.set(last.itemId, last.propensity);
    }
    // greedy a2: 0.7 + 0.3/4; every other open item 0.3/4
    expect(propensity.get('a2')).toBeCloseTo(0.7 + 0.075, 12);
    expect(propensity.get('c1')).toBeCloseTo(0.075, 12);
    for (const [id, n] of counts) expect(Math.abs(n / runs - propensity.get(id)!)).toBeLessThan(0.01);
  });

  it('explores by Thompson sampling: mostly the item with the best click record, propensities estimated by repeated draws', () => {
    const fed = [
      item('x', 0, 'A', { shows: 1000, clicks: 10 }),
      item('y', 1, 'B', { shows: 1000, clicks: 100 }),
      item('z', 2, 'C', { shows: 3, clicks: 0 }),
    ];
    const t = cfg({ exploration: { kind: 'thompson', slots: 1, priorClicks: 1, priorShows: 20, draws: 200 } });
    const counts = new Map<string, number>();
    const random = seededRandom(3);
    let yPropensity = 0;
    const runs = 2000;
    for (let r = 0; r < runs; r++) {
      const out = rerank(fed, 1, t, random, NOW);
      expect(out[0]!.slot).toBe('explore');
      counts.set(out[0]!.itemId, (counts.get(out[0]!.itemId) ?? 0) + 1);
      if (out[0]!.itemId === 'y') yPropensity += out[0]!.propensity;
    }
    const yShare = (counts.get('y') ?? 0) / runs;
    expect(yShare).toBeGreaterThan(0.7); // 10% CTR beats 1%; the unshown z still gets explored sometimes
    expect(counts.get('z') ?? 0).toBeGreaterThan(0);
    expect(Math.abs(yPropensity / (counts.get('y') ?? 1) - yShare)).toBeLessThan(0.05);
  });
});
