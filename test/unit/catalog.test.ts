import { describe, expect, it } from 'vitest';
import { constraintsSchema, satisfies, validateCatalogItem, type CatalogItem } from '../../core/catalog.ts';

const NOW = Date.UTC(2026, 0, 1);
const item = (over: Partial<CatalogItem> = {}): CatalogItem => ({
  tenant: 'acme',
  itemId: 'i1',
  attributes: { category: ['shoes'], genres: ['Action', 'Comedy'] },
  numeric: { price: 25, year: 1999 },
  createdAt: NOW - 1000,
  updatedAt: NOW,
  deleted: false,
  ...over,
});

describe('catalogue records', () => {
  it('accept a well-formed record and name every offending field otherwise', () => {
    expect(validateCatalogItem(item(), NOW)).toEqual({ ok: true, value: item() });
    const bad = validateCatalogItem(
      { ...item(), itemId: '', numeric: { price: Number.NaN }, attributes: { 'bad key': ['x'] } },
      NOW,
    );
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error).toContain('itemId: must not be empty');
      expect(bad.error).toContain('numeric.price');
      expect(bad.error).toContain('attributes.bad key');
    }
    const future = validateCatalogItem(item({ createdAt: NOW + 2 * 86_400_000 }), NOW);
    expect(future).toEqual({ ok: false, error: 'createdAt: more than 24 h in the future' });
    expect(validateCatalogItem(item({ updatedAt: 0 }), NOW)).toMatchObject({
      ok: false,
      error: expect.stringContaining('updatedAt: before 1990'),
    });
  });
});

describe('hard constraints', () => {
  const parse = (w: unknown) => constraintsSchema.parse(w);

  it('admit an item only when every constraint holds', () => {
    expect(satisfies(item(), parse({}))).toBe(true);
    expect(satisfies(item(), parse({ category: ['shoes', 'bags'] }))).toBe(true);
    expect(satisfies(item(), parse({ category: ['bags'] }))).toBe(false);
    expect(satisfies(item(), parse({ genres: ['Comedy'] }))).toBe(true); // any value of a multi-valued attribute
    expect(satisfies(item(), parse({ price: { max: 25 } }))).toBe(true); // closed range
    expect(satisfies(item(), parse({ price: { min: 25.01 } }))).toBe(false);
    expect(satisfies(item(), parse({ price: { max: 30 }, category: ['bags'] }))).toBe(false);
    expect(satisfies(item(), parse({ year: ['1999'] }))).toBe(true); // a numeric stat matched as a value
  });

  it('fail items the catalogue does not know, or that lack the attribute', () => {
    expect(satisfies(null, parse({}))).toBe(true);
    expect(satisfies(null, parse({ category: ['shoes'] }))).toBe(false);
    expect(satisfies(item({ numeric: {} }), parse({ price: { max: 100 } }))).toBe(false);
  });

  it('reject malformed constraints with the reason', () => {
    expect(constraintsSchema.safeParse({ price: {} }).error?.issues[0]?.message).toBe('give min, max or both');
    expect(constraintsSchema.safeParse({ price: { min: 3, max: 1 } }).error?.issues[0]?.message).toBe(
      'min is above max',
    );
    expect(constraintsSchema.safeParse({ category: [] }).error?.issues[0]?.message).toBe('give at least one value');
    expect(constraintsSchema.safeParse({ price: { below: 3 } }).success).toBe(false);
  });
});
