import { describe, expect, it } from 'vitest';
import { ExpiringCache } from '../../platform/expiring-cache.ts';

describe('ExpiringCache', () => {
  it('shares one load until it expires, then loads again', async () => {
    let now = 0;
    let loads = 0;
    const cache = new ExpiringCache<string, number>(5_000, () => now);
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.get('t', load), cache.get('t', load)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
    now = 4_999;
    expect(await cache.get('t', load)).toBe(1);
    now = 5_000;
    expect(await cache.get('t', load)).toBe(2);
    expect(await cache.get('other', load)).toBe(3);
  });

  it('forgets a failed load at once, and reloads after invalidate()', async () => {
    const cache = new ExpiringCache<string, string>(60_000, () => 0);
    await expect(cache.get('t', () => Promise.reject(new Error('redis down')))).rejects.toThrow('redis down');
    expect(await cache.get('t', async () => 'v1')).toBe('v1');
    expect(await cache.get('t', async () => 'v2')).toBe('v1');
    cache.invalidate('t');
    expect(await cache.get('t', async () => 'v2')).toBe('v2');
  });

  it('a failed load does not evict a newer entry loaded meanwhile', async () => {
    const cache = new ExpiringCache<string, string>(60_000, () => 0);
    let fail!: (e: Error) => void;
    const first = cache.get('t', () => new Promise<string>((_, reject) => (fail = reject)));
    cache.invalidate('t');
    expect(await cache.get('t', async () => 'fresh')).toBe('fresh');
    fail(new Error('late failure'));
    await expect(first).rejects.toThrow('late failure');
    expect(await cache.get('t', async () => 'other')).toBe('fresh');
  });
});
