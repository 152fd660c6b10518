import { describe, expect, it } from 'vitest';
import { validateEvent, type InteractionEvent } from '../../core/events.ts';

const now = Date.UTC(2026, 10, 29);
const click: InteractionEvent = {
  type: 'click',
  eventId: 'e1',
  tenant: 'acme',
  userId: 'u1',
  itemId: 'i1',
  timestamp: now - 1000,
  context: {},
  recommendationId: null,
};

describe('validateEvent', () => {
  it('accepts a well-formed event of each type', () => {
    expect(validateEvent(click, now).ok).toBe(true);
    expect(
      validateEvent({ ...click, type: 'impression', recommendationId: 'r', position: 0, feedId: 'home' }, now).ok,
    ).toBe(true);
    expect(validateEvent({ ...click, type: 'engagement', action: 'cart' }, now).ok).toBe(true);
    expect(validateEvent({ ...click, type: 'conversion', value: 12.5 }, now).ok).toBe(true);
  });

  it('names each offending field', () => {
    const r = validateEvent({ ...click, eventId: '', tenant: 'Bad Tenant!' }, now);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toContain('eventId: must not be empty');
      expect(r.error).toContain('tenant: must match');
    }
  });

  it('rejects timestamps before 1990 and more than a day ahead', () => {
    const ancient = validateEvent({ ...click, timestamp: 15_000 }, now);
    const future = validateEvent({ ...click, timestamp: now + 2 * 24 * 3600 * 1000 }, now);
    expect(ancient.ok || future.ok).toBe(false);
    if (!ancient.ok) expect(ancient.error).toContain('timestamp: before 1990-01-01');
    if (!future.ok) expect(future.error).toContain('timestamp: more than 24 h in the future');
  });

  it('rejects a negative impression position and a non-finite conversion value', () => {
    const pos = validateEvent(
      { ...click, type: 'impression', recommendationId: 'r', position: -1, feedId: 'home' },
      now,
    );
    const val = validateEvent({ ...click, type: 'conversion', value: Number.POSITIVE_INFINITY }, now);
    expect(pos.ok).toBe(false);
    expect(val.ok).toBe(false);
    if (!pos.ok) expect(pos.error).toMatch(/^position:/);
    if (!val.ok) expect(val.error).toMatch(/^value:/);
  });
});
