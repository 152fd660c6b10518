// The index manager's swap ordering and start-up warm-up, on real snapshots in a temporary directory.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { createLogger } from '../../platform/logger.ts';
import type { Redis } from '../../platform/redis.ts';
import { IndexManager } from '../../serving/index-manager.ts';
import { indexCurrentKey } from '../../state/keys.ts';
import { DEFAULT_INDEX_PARAMS, buildSnapshot } from '../../state/index-snapshots.ts';

const logger = createLogger('silent', 'test');
const dim = 8;

async function snapshot(root: string, partition: string, n: number, seed: number): Promise<string> {
  const rand = seededRandom(seed);
  const manifest = await buildSnapshot(root, {
    partition,
    itemIds: Array.from({ length: n }, (_, i) => `i${i}`),
    vectors: Float32Array.from({ length: n * dim }, () => rand() - 0.5),
    dim,
    params: DEFAULT_INDEX_PARAMS,
    sources: { als: 'als-test' },
  });
  return manifest.version;
}

/** Only what warm() reads: the pointers. */
function pointers(values: Record<string, string>): Redis {
  return { mget: async (...keys: string[]) => keys.map((k) => values[k] ?? null) } as unknown as Redis;
}

describe('IndexManager', () => {
  it('serves the last requested version whichever load finishes first, and a rollback cancels a load in flight', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-manager-'));
    const big = await snapshot(root, 'p', 3000, 1);
    const small = await snapshot(root, 'p', 20, 2);
    const m = new IndexManager(pointers({}), pointers({}), root, logger);

    await Promise.all([m.swapTo('p', big), m.swapTo('p', small)]); // the small one loads first, then the big one
    expect(m.loaded().map((i) => i.version)).toEqual([small]);
    await Promise.all([m.swapTo('p', big), m.swapTo('p', small)]); // back to the one serving while big still loads
    expect(m.loaded().map((i) => i.version)).toEqual([small]);
    expect(m.swaps).toBe(1);

    await Promise.all([m.swapTo('p', big), m.swapTo('p', big)]); // the same version twice loads once
    expect(m.loaded().map((i) => i.version)).toEqual([big]);
    expect(m.swaps).toBe(2);
  });

  it('warm() loads every partition with a pointer, reports progress, and skips pointers to missing snapshots', async () => {
    const root = mkdtempSync(join(tmpdir(), 'rs-warm-'));
    const a = await snapshot(root, 'a', 50, 3);
    const b = await snapshot(root, 'b', 60, 4);
    const redis = pointers({
      [indexCurrentKey('a')]: a,
      [indexCurrentKey('b')]: b,
      [indexCurrentKey('gone')]: 'idx-0000000000000000',
    });
    const m = new IndexManager(redis, redis, root, logger);
    expect(m.warmStatus()).toBeNull();
    await m.warm(['a', 'b', 'gone', 'none']);
    expect(m.warmStatus()).toEqual({ total: 4, done: 4, error: null, finished: true });
    expect(
      m
        .loaded()
        .map((i) => [i.partition, i.version, i.count])
        .sort(),
    ).toEqual([
      ['a', a, 50],
      ['b', b, 60],
    ]);
    expect(m.rejections).toBe(0);
  });

  it('warm() records a failure to read the pointers', async () => {
    const failing = { mget: async () => Promise.reject(new Error('connection closed')) } as unknown as Redis;
    const m = new IndexManager(failing, failing, mkdtempSync(join(tmpdir(), 'rs-warm-')), logger);
    await expect(m.warm(['a'])).rejects.toThrow('connection closed');
    expect(m.warmStatus()).toMatchObject({ finished: true, error: 'connection closed' });
  });
});
