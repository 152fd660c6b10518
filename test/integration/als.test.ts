// ALS end to end on the real services: ledger -> BullMQ training job -> versioned model -> feeds; then streaming
// fold-in of new events, idempotent per event id.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QueueEvents, Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { foldInUser } from '../../core/models/als.ts';
import { ArtifactStore } from '../../platform/artifact-store.ts';
import type { ClickHouseClient } from '../../platform/clickhouse.ts';
import type { Redis } from '../../platform/redis.ts';
import { AlsModelStore } from '../../state/als-models.ts';
import { alsHistoryKey, alsItemsKey, alsUsersKey } from '../../state/keys.ts';
import type { RunningReader } from '../../apps/reader.ts';
import type { EventProducer } from '../../streams/event-producer.ts';
import { alsQueue, enqueueAlsTraining, startAlsWorker } from '../../jobs/als-training.ts';
import { isolatedConfig, logger, startStack, type Stack } from '../support/harness.ts';

const artifactsDir = mkdtempSync(join(tmpdir(), 'rankstream-als-'));
// Small planted data (30 users, 8 clicks each): few factors and light regularisation, not the MovieLens-tuned defaults.
const config = isolatedConfig('als', {
  ARTIFACTS_DIR: artifactsDir,
  ALS_ITERATIONS: '10',
  ALS_FACTORS: '8',
  ALS_REGULARIZATION: '0.1',
  ALS_ALPHA: '10',
  QUEUE_PREFIX: `q-${Date.now()}`,
});
const tenant = `als-${config.suffix}`.replace(/_/g, '-');
let producer: EventProducer;
let stack: Stack;
let reader: RunningReader;
let redis: Redis;
let clickhouse: ClickHouseClient;
let models: AlsModelStore;
let worker: Worker;
let events: QueueEvents;

const t0 = Date.UTC(2026, 2, 1);
let seq = 0;
const click = (user: string, item: string): InteractionEvent => ({
  type: 'click',
  eventId: `c-${seq++}`,
  tenant,
  userId: user,
  itemId: item,
  timestamp: t0 + seq * 1000,
  context: {},
  recommendationId: null,
});
// Two tastes: users a* click items A*, users b* click items B*; each user leaves some of their side unseen.
const A = Array.from({ length: 12 }, (_, i) => `A${i}`);
const B = Array.from({ length: 12 }, (_, i) => `B${i}`);
const newbieEvents: InteractionEvent[] = [];

async function caughtUp() {
  await stack.caughtUp();
}

async function feed(user: string, k = 4) {
  const res = await fetch(`${reader.url}/v1/feeds/${user}?tenant=${tenant}&k=${k}`);
  return (await res.json()) as {
    modelVersion: string;
    indexVersion: string;
    items: { itemId: string; score: number }[];
  };
}

beforeAll(async () => {
  stack = await startStack(config);
  ({ producer, reader, redis, clickhouse, models } = stack);
  ({ worker, events } = startAlsWorker(config, {
    config,
    clickhouse,
    models,
    scalerVersion: async () => null,
    logger,
  }));

  const history: InteractionEvent[] = [];
  for (let u = 0; u < 15; u++) {
    for (const [prefix, items] of [
      ['a', A],
      ['b', B],
    ] as const) {
      // each user clicks 8 of their side's 12 items, a different window per user
      for (let j = 0; j < 8; j++) history.push(click(`${prefix}${u}`, items[(u + j) % items.length]!));
    }
  }
  await producer.send(history);
  await caughtUp();
});

afterAll(async () => {
  await worker?.close();
  await events?.close();
  await stack?.stop();
});

describe('ALS', () => {
  it('trains from the ledger in a deduplicated BullMQ job and publishes a versioned model', async () => {
    expect((await feed('a0')).modelVersion).toBe('popularity-v1'); // before any model
    const queue = alsQueue(config);
    const first = await enqueueAlsTraining(queue, { tenant });
    const second = await enqueueAlsTraining(queue, { tenant }); // a second trigger while the first is pending
    expect(second.id).toBe(first.id);
    const result = await first.waitUntilFinished(events, 120_000);
    await queue.close();
    expect(result).toMatchObject({ nUsers: 30, nItems: 24, interactions: 240 });
    expect(result.version).toMatch(/^als-[0-9a-f]{16}$/);
    expect(await models.currentVersion(tenant)).toBe(result.version);
    expect(await redis.hlen(alsUsersKey(tenant, result.version))).toBe(30);
    const manifest = await new ArtifactStore(artifactsDir).manifest('als', result.version);
    expect(manifest.meta).toMatchObject({ tenant, nUsers: 30, nItems: 24, params: { factors: 8 } });
  });

  it("serves feeds from the model: unseen items of the user's own taste", async () => {
    for (const user of ['a3', 'b7']) {
      const f = await feed(user, 2);
      expect(f.modelVersion).toMatch(/^als-/);
      expect(f.indexVersion).toBe('exact');
      const side = user.startsWith('a') ? 'A' : 'B';
      // the head of the list is the user's taste (farther down, unclicked items of either taste score near zero)
      expect(f.items.map((i) => i.itemId[0])).toEqual([side, side]);
      const seen = new Set(await redis.zrange(`rs:{${tenant}}:seen:${user}`, '0', '-1'));
      for (const i of f.items) expect(seen.has(i.itemId)).toBe(false);
    }
  });

  it("folds a new user's first events in within the stream and personalises their next feed", async () => {
    const version = (await models.currentVersion(tenant))!;
    expect(await models.userVector(tenant, version, 'newbie')).toBeNull();
    newbieEvents.push(click('newbie', 'B1'), click('newbie', 'B2'), click('newbie', 'B3'));
    await producer.send(newbieEvents);
    await caughtUp();
    const vector = await models.userVector(tenant, version, 'newbie');
    expect(vector).not.toBeNull();
    // the stored vector is the exact fold-in of the user's history with the model's item factors
    const model = await models.load(version);
    const expected = foldInUser(
      model,
      model.gram,
      ['B1', 'B2', 'B3'].map((id) => ({ item: model.itemIndex.get(id)!, value: 1 })),
      model.params,
    );
    for (let d = 0; d < model.factors; d++) expect(vector![d]).toBeCloseTo(expected[d]!, 4);
    const f = await feed('newbie', 2);
    expect(f.modelVersion).toBe(version);
    expect(f.items.map((i) => i.itemId[0])).toEqual(['B', 'B']);
  });

  it('gives an item first seen after training a vector of the right taste within the stream', async () => {
    const version = (await models.currentVersion(tenant))!;
    await producer.send(['a0', 'a1', 'a2', 'a4', 'a5'].map((u) => click(u, 'A-fresh')));
    await caughtUp();
    expect(await redis.hexists(alsItemsKey(tenant, version), 'A-fresh')).toBe(1);
    const model = await new AlsModelStore(redis, new ArtifactStore(artifactsDir)).load(version);
    const i = model.itemIndex.get('A-fresh')!;
    expect(i).toBeGreaterThanOrEqual(24); // appended after the trained items
    const item = model.itemFactors.subarray(i * model.factors, (i + 1) * model.factors);
    const score = async (user: string) => {
      const v = (await models.userVector(tenant, version, user))!;
      return v.reduce((s, x, d) => s + x * item[d]!, 0);
    };
    // A-taste users who never clicked it score it higher, on average, than B-taste users
    const mean = async (users: string[]) =>
      (await Promise.all(users.map(score))).reduce((s, x) => s + x, 0) / users.length;
    const otherA = Array.from({ length: 15 }, (_, u) => `a${u}`).filter(
      (u) => !['a0', 'a1', 'a2', 'a4', 'a5'].includes(u),
    );
    expect(await mean(otherA)).toBeGreaterThan(await mean(Array.from({ length: 15 }, (_, u) => `b${u}`)));
  });

  it('ignores a re-sent event: the history and the vector stay as they were', async () => {
    const version = (await models.currentVersion(tenant))!;
    const before = await redis.hgetall(alsHistoryKey(tenant, 'newbie'));
    const vectorBefore = await models.userVector(tenant, version, 'newbie');
    const again = newbieEvents[0]!;
    expect(before.B1).toBe('1');
    await producer.send([again, again]);
    await caughtUp();
    expect(await redis.hgetall(alsHistoryKey(tenant, 'newbie'))).toEqual(before);
    expect(await models.userVector(tenant, version, 'newbie')).toEqual(vectorBefore);
  });
});
