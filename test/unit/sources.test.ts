import { describe, expect, it } from 'vitest';
import { toLedgerRow } from '../../state/ledger.ts';
import { sqlString } from '../../platform/clickhouse.ts';
import { parseTaobaoLine } from '../../datasets/taobao.ts';

describe('parseTaobaoLine', () => {
  it('maps pv/cart/fav/buy to click/engagement/conversion with a stable event id', () => {
    const pv = parseTaobaoLine('543462,1715,1464116,pv,1511658000', 1, 'UserBehavior.csv', 'taobao');
    expect(pv).toMatchObject({
      ok: true,
      event: {
        type: 'click',
        eventId: 'UserBehavior.csv:1',
        userId: '543462',
        itemId: '1715',
        timestamp: 1511658000000,
        context: { category: '1464116' },
      },
    });
    expect(parseTaobaoLine('1,2,3,cart,1511658000', 2, 'f', 't')).toMatchObject({
      ok: true,
      event: { type: 'engagement', action: 'cart' },
    });
    expect(parseTaobaoLine('1,2,3,fav,1511658000', 3, 'f', 't')).toMatchObject({
      ok: true,
      event: { type: 'engagement', action: 'fav' },
    });
    expect(parseTaobaoLine('1,2,3,buy,1511658000', 4, 'f', 't')).toMatchObject({
      ok: true,
      event: { type: 'conversion', value: 0 },
    });
  });

  it('rejects the truncated last line of the published file and other junk with a reason', () => {
    expect(parseTaobaoLine('301780,543546,418136,pv,15', 96169, 'f', 't')).toMatchObject({
      ok: false,
      line: 96169,
      reason: expect.stringContaining('unix_ts'),
    });
    expect(parseTaobaoLine('301780,5435', 7, 'f', 't')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('5 comma-separated'),
    });
    expect(parseTaobaoLine('1,2,3,like,1511658000', 8, 'f', 't')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('unknown behavior'),
    });
  });
});

describe('ledger rows', () => {
  it('maps an impression with its context into columns', () => {
    const row = toLedgerRow(
      {
        value: {
          type: 'impression',
          eventId: 'e',
          tenant: 't',
          userId: 'u',
          itemId: 'i',
          timestamp: 1511658000123,
          context: { z: '1', a: '2' },
          recommendationId: 'r',
          position: 3,
          feedId: 'home',
        },
        topic: 'ev',
        partition: 2,
        offset: '41',
        timestamp: '0',
        key: null,
        raw: null,
        schemaId: 7,
      },
      1_700_000_000_999,
    );
    expect(row).toMatchObject({
      ts: 1511658000,
      ts_ms: 1511658000123,
      position: 3,
      feed_id: 'home',
      action: null,
      value: null,
      context_keys: ['a', 'z'],
      context_values: ['2', '1'],
      kafka_offset: '41',
      schema_id: 7,
      ingested_at: 1_700_000_000,
    });
  });
});

describe('sqlString', () => {
  it('escapes quotes, backslashes and control characters', () => {
    expect(sqlString("it's \\ a\ntest")).toBe("'it\\'s \\\\ a\\ntest'");
  });
});
