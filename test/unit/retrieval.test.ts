import { describe, expect, it } from 'vitest';
import { mergeRails } from '../../core/funnel/retrieval.ts';

const items = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({ itemId: `${prefix}${i}`, score: n - i }));

describe('rail merging', () => {
  it("gives each rail its share of the slots, spread evenly, in each rail's own order", () => {
    const out = mergeRails(
      [
        { source: 'ann', items: items('a', 20), share: 0.7 },
        { source: 'popular', items: items('p', 20), share: 0.2 },
        { source: 'fresh', items: items('f', 20), share: 0.1 },
      ],
      10,
    );
    expect(out.filter((c) => c.source === 'ann')).toHaveLength(7);
    expect(out.filter((c) => c.source === 'popular')).toHaveLength(2);
    expect(out.filter((c) => c.source === 'fresh')).toHaveLength(1);
    expect(out[0]!.source).toBe('ann'); // the largest share leads
    expect(out.filter((c) => c.source === 'ann').map((c) => c.itemId)).toEqual([
      'a0',
      'a1',
      'a2',
      'a3',
      'a4',
      'a5',
      'a6',
    ]);
    // the two popular slots are not adjacent
    const pos = out.flatMap((c, i) => (c.source === 'popular' ? [i] : []));
    expect(pos[1]! - pos[0]!).toBeGreaterThan(1);
  });

  it("skips an item an earlier pick holds, and lets a dry rail's slots go to the others", () => {
    const out = mergeRails(
      [
        { source: 'ann', items: [{ itemId: 'x', score: 1 }], share: 0.7 },
        { source: 'popular', items: [{ itemId: 'x', score: 9 }, ...items('p', 10)], share: 0.3 },
      ],
      5,
    );
    expect(out.map((c) => c.itemId)).toEqual(['x', 'p0', 'p1', 'p2', 'p3']);
    expect(out[0]!.source).toBe('ann');
    expect(new Set(out.map((c) => c.itemId)).size).toBe(5);
  });

  it('returns fewer than k only when every rail ran dry, and ignores zero shares', () => {
    expect(
      mergeRails(
        [
          { source: 'ann', items: items('a', 2), share: 1 },
          { source: 'fresh', items: items('f', 5), share: 0 },
        ],
        5,
      ),
    ).toHaveLength(2);
    expect(mergeRails([], 5)).toEqual([]);
  });
});
