// The catalogue processor's pure parts: table rows, the effects a batch's Redis outcomes call for, and the DDL.
import { describe, expect, it } from 'vitest';
import type { CatalogItem } from '../../core/catalog.ts';
import { planCatalogEffects } from '../../processors/catalog.ts';
import { catalogTableDdl, toCatalogRow } from '../../state/catalog-table.ts';

const t0 = Date.UTC(2026, 0, 1);
const item = (itemId: string, updatedAt: number, extra: Partial<CatalogItem> = {}): CatalogItem => ({
  tenant: 'a',
  itemId,
  attributes: {},
  numeric: {},
  createdAt: t0,
  updatedAt,
  deleted: false,
  ...extra,
});
const ref = (tenant: string, itemId: string) => `${tenant}\u0000${itemId}`;

describe('catalogue rows', () => {
  it('stores multi-valued attributes as parallel entries with the key repeated, keys sorted', () => {
    const row = toCatalogRow(
      {
        value: item('m1', t0 + 5, {
          attributes: { title: ['Heat'], genres: ['Action', 'Crime'], empty: [] },
          numeric: { year: 1995, rating: 4.5 },
          deleted: true,
        }),
        topic: 'items',
        partition: 1,
        offset: '9',
        timestamp: '0',
        key: null,
        raw: null,
        schemaId: 3,
      },
      1_700_000_000_999,
    );
    expect(row).toEqual({
      tenant: 'a',
      item_id: 'm1',
      attribute_keys: ['genres', 'genres', 'title'],
      attribute_values: ['Action', 'Crime', 'Heat'],
      numeric_keys: ['rating', 'year'],
      numeric_values: [4.5, 1995],
      created_at_ms: t0,
      updated_at_ms: t0 + 5,
      deleted: 1,
      schema_id: 3,
      kafka_topic: 'items',
      kafka_partition: 1,
      kafka_offset: '9',
      ingested_at: 1_700_000_000,
    });
  });

  it('keeps the DDL to what ClickHouse 18.16 accepts, versioned by updated_at_ms', () => {
    const ddl = catalogTableDdl('db', 'items');
    expect(ddl).toContain('ENGINE = ReplacingMergeTree(updated_at_ms)');
    expect(ddl).toContain('ORDER BY (tenant, item_id)');
    expect(ddl).not.toMatch(/DateTime64|Map\(|CODEC|TTL|LowCardinality|PARTITION BY/);
    expect(() => catalogTableDdl('db', 'items; DROP')).toThrow(/identifier/);
  });
});

describe('planCatalogEffects', () => {
  it('announces deletions, hands created/updated items to the hook and checks the trigger for tenants with new items', () => {
    const b = { ...item('x', t0 + 1), tenant: 'b' };
    const fx = planCatalogEffects(
      [item('n', t0 + 1), item('u', t0 + 1), item('d', t0 + 1, { deleted: true }), b],
      ['created', 'updated', 'deleted', 'updated'],
      new Map(),
    );
    expect(fx.deleted).toEqual(new Map([['a', ['d']]]));
    expect([...fx.applied.get('a')!].map((i) => i.itemId)).toEqual(['n', 'u']);
    expect(fx.applied.get('b')).toEqual([b]);
    expect(fx.triggerCandidates).toEqual(new Set(['a']));
  });

  it('ignores an older version, and lets the last state of an item in the batch win', () => {
    const fx = planCatalogEffects(
      [
        item('s', t0 + 1),
        item('c', t0 + 1),
        item('c', t0 + 2, { deleted: true }),
        item('r', t0 + 1, { deleted: true }),
        item('r', t0 + 2),
      ],
      ['stale', 'created', 'deleted', 'deleted', 'updated'],
      new Map([[ref('a', 's'), item('s', t0 + 9)]]),
    );
    expect(fx.deleted).toEqual(new Map([['a', ['c']]]));
    expect(fx.applied.get('a')!.map((i) => [i.itemId, i.updatedAt])).toEqual([['r', t0 + 2]]);
  });

  it('repeats the effects of a re-delivered record (stale at the stored version) from the stored record', () => {
    const stored = new Map([
      [ref('a', 'gone'), item('gone', t0 + 3, { deleted: true })],
      [ref('a', 'live'), item('live', t0 + 3, { attributes: { k: ['stored'] } })],
    ]);
    const fx = planCatalogEffects(
      [item('gone', t0 + 3, { deleted: true }), item('live', t0 + 3)],
      ['stale', 'stale'],
      stored,
    );
    expect(fx.deleted).toEqual(new Map([['a', ['gone']]]));
    expect(fx.applied.get('a')).toEqual([item('live', t0 + 3, { attributes: { k: ['stored'] } })]);
    expect(fx.triggerCandidates).toEqual(new Set(['a']));
  });
});
