import { describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { planFeatureBatch } from '../../core/features/feature-updates.ts';
import { decayedScore, decayParams, planEpoch } from '../../core/features/popularity.ts';
import {
  betaPrior,
  counterFields,
  isExpiredField,
  smoothedRate,
  trendingScore,
  windowCounts,
  windowFieldNames,
  SESSION_IDLE_MS,
} from '../../core/features/session-features.ts';

const H = 3_600_000;
const t0 = Date.UTC(2017, 10, 26);
function ev(
  type: InteractionEvent['type'],
  tenant: string,
  user: string,
  item: string,
  t: number,
  category?: string,
): InteractionEvent {
  const context: Record<string, string> = category ? { category } : {};
  const base = {
    eventId: `${tenant}-${user}-${item}-${t}-${type}`,
    tenant,
    userId: user,
    itemId: item,
    timestamp: t,
    context,
  };
  if (type === 'impression') return { ...base, type, recommendationId: 'r', position: 0, feedId: 'f' };
  if (type === 'engagement') return { ...base, type, action: 'cart', recommendationId: null };
  if (type === 'conversion') return { ...base, type, value: 1, recommendationId: null };
  return { ...base, type: 'click', recommendationId: null };
}
const params = decayParams(3600, 600); // long half-life 1 h, short 10 min
const empty = { epochs: new Map(), sessions: new Map() };

describe('forward decay', () => {
  it('weights event types and halves the weight of an event one half-life older', () => {
    const [plan] = planFeatureBatch(
      [
        ev('click', 'a', 'u1', 'x', t0),
        ev('click', 'a', 'u2', 'y', t0 + H),
        ev('conversion', 'a', 'u2', 'z', t0),
        ev('impression', 'a', 'u3', 'q', t0),
      ],
      empty,
      params,
    );
    const inc = new Map(plan!.ops.map((o) => [o.item, o.popularityInc]));
    expect(plan!.epochMs).toBe(t0);
    expect(inc.get('x')).toBeCloseTo(1);
    expect(inc.get('y')).toBeCloseTo(2); // newer events weigh more in forward decay
    expect(inc.get('z')).toBeCloseTo(5);
    expect(inc.get('q')).toBe(0); // impressions carry no popularity
    expect(decayedScore(inc.get('x')!, t0, t0 + H, H)).toBeCloseTo(0.5);
    expect(plan!.ops.find((o) => o.item === 'y')!.trendingInc).toBeCloseTo(2 ** 6); // short half-life: 6 halvings per hour
  });

  it('keeps the stored epoch and rebases both scores when the short exponent grows too large', () => {
    expect(planEpoch(t0, t0 + H, t0 + 2 * H, params)).toEqual({ epochMs: t0, rebaseLong: 1, rebaseShort: 1 });
    const far = t0 + 50 * 600_000; // 50 short half-lives > maxExponent 40
    const p = planEpoch(t0, far, far, params);
    expect(p.epochMs).toBe(far);
    expect(p.rebaseShort).toBeCloseTo(2 ** -50, 25);
    expect(p.rebaseLong).toBeCloseTo(2 ** (-50 / 6));
    // a stored score means the same decayed value after the rebase
    expect(decayedScore(3 * p.rebaseLong, far, far, H)).toBeCloseTo(decayedScore(3, t0, far, H), 10);
  });

  it('plans each tenant separately', () => {
    const plans = planFeatureBatch([ev('click', 'a', 'u', 'x', t0), ev('click', 'b', 'u', 'x', t0)], empty, params);
    expect(plans.map((p) => p.tenant).sort()).toEqual(['a', 'b']);
  });
});

describe('sessions', () => {
  it('continue within 30 idle minutes and start anew after, across batches', () => {
    const stored = {
      epochs: new Map(),
      sessions: new Map([['a/u', { id: 'u@1', startMs: t0 - 10 * 60_000, lastMs: t0 - 5 * 60_000 }]]),
    };
    const [plan] = planFeatureBatch(
      [
        ev('click', 'a', 'u', 'x', t0),
        ev('click', 'a', 'u', 'y', t0 + SESSION_IDLE_MS),
        ev('click', 'a', 'u', 'z', t0 + 2 * SESSION_IDLE_MS + 1),
      ],
      stored,
      params,
    );
    expect(plan!.ops.map((o) => [o.sessionId, o.newSession])).toEqual([
      ['u@1', false],
      ['u@1', false], // exactly 30 min idle still continues
      [`u@${t0 + 2 * SESSION_IDLE_MS + 1}`, true],
    ]);
    expect(plan!.ops[2]!.sessionStartMs).toBe(t0 + 2 * SESSION_IDLE_MS + 1);
  });
});

describe('windowed counters', () => {
  it('bucket an event per window and sum only buckets inside each window', () => {
    const fields: Record<string, number> = {};
    const add = (type: InteractionEvent['type'], t: number) => {
      for (const f of counterFields(type, t)) fields[f] = (fields[f] ?? 0) + 1;
    };
    const now = t0 + 10 * 86_400_000 + 30 * 60_000; // 00:30 on day 10
    add('click', now - 10 * 60_000); // in 1h, 24h, 7d
    add('click', now - 2 * H); // in 24h, 7d
    add('impression', now - 3 * 86_400_000); // 7d only
    add('click', now - 9 * 86_400_000); // outside all
    const c = windowCounts(fields, now);
    expect(c['1h'].click).toBe(1);
    expect(c['24h'].click).toBe(2);
    expect(c['7d'].click).toBe(2);
    expect(c['7d'].impression).toBe(1);
    const [clickMin2h] = counterFields('click', now - 2 * H);
    const [impMin3d, impHour3d] = counterFields('impression', now - 3 * 86_400_000);
    const expired = [clickMin2h, impMin3d, impHour3d, ...counterFields('click', now - 9 * 86_400_000)];
    expect(
      Object.keys(fields)
        .filter((f) => isExpiredField(f, now))
        .sort(),
    ).toEqual(expired.sort());
  });

  it('name the fields of one window, so reading just those gives the same counts as the whole hash', () => {
    const fields: Record<string, number> = {};
    const now = t0 + 20 * 86_400_000 + 5 * H;
    let seed = 11;
    const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
    for (let i = 0; i < 500; i++) {
      const type = (['impression', 'click', 'engagement', 'conversion'] as const)[Math.floor(rand() * 4)]!;
      for (const f of counterFields(type, now - Math.floor(rand() * 12 * 86_400_000))) fields[f] = (fields[f] ?? 0) + 1;
    }
    const names = windowFieldNames('7d', ['impression', 'click'], now);
    const read = names.map((n) => fields[n] ?? 0);
    const c = windowCounts(fields, now)['7d'];
    expect(read.slice(0, 7).reduce((a, b) => a + b, 0)).toBe(c.impression);
    expect(read.slice(7).reduce((a, b) => a + b, 0)).toBe(c.click);
    expect(c.impression + c.click).toBeGreaterThan(0);
  });
});

describe('rates and trending', () => {
  it('shrinks a rate with few trials toward the prior', () => {
    const prior = betaPrior(0.05, 100);
    expect(smoothedRate(1, 1, prior)).toBeCloseTo(6 / 101);
    expect(smoothedRate(500, 1000, prior)).toBeCloseTo(505 / 1100);
    expect(smoothedRate(0, 0, prior)).toBeCloseTo(0.05);
  });

  it('scores a steady item ~1 and an item heating up above 1', () => {
    // steady rate r: short = r*hs/ln2, long = r*hl/ln2
    const r = 10;
    const hs = 600_000;
    const hl = H;
    expect(trendingScore((r * hs) / Math.LN2, (r * hl) / Math.LN2, hs, hl, 0.001)).toBeCloseTo(1, 2);
    expect(trendingScore((3 * r * hs) / Math.LN2, (r * hl) / Math.LN2, hs, hl, 0.001)).toBeGreaterThan(2.5);
  });
});
