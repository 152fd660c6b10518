import { describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { decayedScore, planPopularityUpdate, popularityParams } from '../../core/popularity.ts';

const H = 3600 * 1000;
function ev(type: InteractionEvent['type'], tenant: string, user: string, item: string, t: number): InteractionEvent {
  const base = { eventId: `${tenant}-${user}-${item}-${t}`, tenant, userId: user, itemId: item, timestamp: t, context: {} };
  if (type === 'impression') return { ...base, type, recommendationId: 'r', position: 0, feedId: 'f' };
  if (type === 'engagement') return { ...base, type, action: 'cart', recommendationId: null };
  if (type === 'conversion') return { ...base, type, value: 1, recommendationId: null };
  return { ...base, type: 'click', recommendationId: null };
}

describe('planPopularityUpdate', () => {
  const params = popularityParams(3600); // half-life 1 h
  const t0 = Date.UTC(2017, 10, 26);

  it('weights event types and halves the weight of an event one half-life older', () => {
    const [u] = planPopularityUpdate([ev('click', 'a', 'u1', 'x', t0), ev('click', 'a', 'u2', 'y', t0 + H), ev('conversion', 'a', 'u2', 'z', t0)], new Map(), params);
    expect(u!.epochMs).toBe(t0);
    expect(u!.increments.get('x')).toBeCloseTo(1);
    expect(u!.increments.get('y')).toBeCloseTo(2); // forward decay: newer events weigh more
    expect(u!.increments.get('z')).toBeCloseTo(5);
    // as of t0 + 1 h: x decayed to 0.5, y is 1
    expect(decayedScore(u!.increments.get('x')!, u!.epochMs, t0 + H, H)).toBeCloseTo(0.5);
    expect(decayedScore(u!.increments.get('y')!, u!.epochMs, t0 + H, H)).toBeCloseTo(1);
  });

  it('keeps tenants apart and ignores impressions for scores but not for nothing else', () => {
    const updates = planPopularityUpdate([ev('click', 'a', 'u', 'x', t0), ev('click', 'b', 'u', 'x', t0), ev('impression', 'a', 'u', 'q', t0)], new Map(), params);
    expect(updates.map((u) => u.tenant).sort()).toEqual(['a', 'b']);
    const a = updates.find((u) => u.tenant === 'a')!;
    expect(a.increments.has('q')).toBe(false);
    expect([...a.seen.get('u')!.keys()]).toEqual(['x']); // an impression is not "seen" for filtering
  });

  it('uses the stored epoch and rebases when the exponent would grow too large', () => {
    const stored = new Map([['a', { epochMs: t0 }]]);
    const [same] = planPopularityUpdate([ev('click', 'a', 'u', 'x', t0 + 2 * H)], stored, params);
    expect(same!.rebaseFactor).toBe(1);
    expect(same!.increments.get('x')).toBeCloseTo(4);

    const far = t0 + 50 * H; // beyond maxExponent (40) half-lives
    const [rebased] = planPopularityUpdate([ev('click', 'a', 'u', 'x', far)], stored, params);
    expect(rebased!.epochMs).toBe(far);
    expect(rebased!.previousEpochMs).toBe(t0);
    expect(rebased!.rebaseFactor).toBeCloseTo(2 ** -50);
    expect(rebased!.increments.get('x')).toBeCloseTo(1);
    // an old score of s at epoch t0, rebased, still means the same decayed value
    const s = 3;
    expect(decayedScore(s * rebased!.rebaseFactor, far, far, H)).toBeCloseTo(decayedScore(s, t0, far, H), 20);
  });

  it('records the latest interaction time per user and item', () => {
    const [u] = planPopularityUpdate([ev('click', 'a', 'u', 'x', t0 + 5), ev('click', 'a', 'u', 'x', t0 + 1)], new Map(), params);
    expect(u!.seen.get('u')!.get('x')).toBe(t0 + 5);
    expect(u!.latestEventMs).toBe(t0 + 5);
  });
});
