// Retcon and the hot-swapped index: a BullMQ retcon job builds a partition's HNSW index from the current ALS model,
// the reader swaps to each new version under a load of feed requests without failing one, and a corrupted snapshot
// is refused while the previous one keeps serving.
import type { ArtifactStore } from '../../platform/artifact-store.ts';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents, type Worker } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import type { ClickHouseClient } from '../../platform/clickhouse.ts';
import type { Redis } from '../../platform/redis.ts';
import type { AlsModelStore } from '../../state/als-models.ts';
import { announceIndex } from '../../state/index-pointers.ts';
import { indexCurrentKey } from '../../state/keys.ts';
import { partitionDir } from '../../state/index-snapshots.ts';
import type { RunningReader } from '../../apps/reader.ts';
import type { EventProducer } from '../../streams/event-producer.ts';
import { alsQueue, enqueueAlsTraining, startAlsWorker, trainTenantAls } from '../../jobs/als-training.ts';
import { bullConnection } from '../../platform/queue-connection.ts';
import {
  RETCON_QUEUE,
  enqueueRetcon,
  retconQueue,
  scheduleRetcon,
  startRetconWorker,
  type RetconResult,
} from '../../jobs/retcon.ts';
import { SchemaRegistryClient } from '../../schemas/registry.ts';
import { ItemProducer } from '../../streams/item-producer.ts';
import { waitForCaughtUp } from '../../streams/offsets.ts';
import { readTaobaoCatalog } from '../../datasets/taobao-catalog.ts';
import { readTaobaoLog } from '../../datasets/taobao.ts';
import { isolatedConfig, logger, startStack, type Stack } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const artifactsDir = mkdtempSync(join(tmpdir(), 'rankstream-retcon-'));
// Small planted data: few factors and light regularisation, not the MovieLens-tuned defaults.
const config = isolatedConfig('retcon', {
  ARTIFACTS_DIR: artifactsDir,
  ALS_ITERATIONS: '10',
  ALS_FACTORS: '8',
  ALS_REGULARIZATION: '0.1',
  ALS_ALPHA: '10',
  QUEUE_PREFIX: `q-${Date.now()}`,
});
const tenant = `rc-${config.suffix}`.replace(/_/g, '-');
let producer: EventProducer;
let stack: Stack;
let reader: RunningReader;
let redis: Redis;
let clickhouse: ClickHouseClient;
let models: AlsModelStore;
let artifacts: ArtifactStore;
let worker: Worker;
let events: QueueEvents;

let seq = 0;
const click = (user: string, item: string): InteractionEvent => ({
  type: 'click',
  eventId: `r-${seq++}`,
  tenant,
  userId: user,
  itemId: item,
  timestamp: Date.UTC(2026, 3, 1) + seq * 1000,
  context: {},
  recommendationId: null,
});

async function feed(user: string) {
  const res = await fetch(`${reader.url}/v1/feeds/${user}?tenant=${tenant}&k=3`);
  return {
    status: res.status,
    body: (await res.json()) as {
      indexVersion: string;
      modelVersion: string;
      items: { itemId: string; source: string }[];
    },
  };
}

async function runRetcon(): Promise<string> {
  const queue = retconQueue(config);
  const job = await enqueueRetcon(queue, { tenant });
  const result = await job.waitUntilFinished(events, 120_000);
  await queue.close();
  return result.version;
}

beforeAll(async () => {
  stack = await startStack(config);
  ({ producer, reader, redis, clickhouse, models, artifacts } = stack);
  worker = startRetconWorker(config, { config, clickhouse, redis, models, artifacts, logger });
  events = new QueueEvents(RETCON_QUEUE, { connection: bullConnection(config), prefix: config.queuePrefix });

  const history: InteractionEvent[] = [];
  for (let u = 0; u < 15; u++) {
    for (const [p, side] of [
      ['a', 'A'],
      ['b', 'B'],
    ] as const)
      for (let j = 0; j < 8; j++) history.push(click(`${p}${u}`, `${side}${(u + j) % 12}`));
  }
  await producer.send(history);
  await stack.caughtUp();
  await trainTenantAls({ config, clickhouse, models, scalerVersion: async () => null, logger }, { tenant });
});

afterAll(async () => {
  await worker?.close();
  await events?.close();
  await stack?.stop();
});

describe('retcon and hot swap', () => {
  it('builds the tenant partition from the ledger and the current model; the reader swaps to it', async () => {
    expect((await feed('a3')).body.indexVersion).toBe('exact');
    const version = await runRetcon();
    expect(version).toMatch(/^idx-[0-9a-f]{16}$/);
    expect(await redis.get(indexCurrentKey(tenant))).toBe(version);
    await eventually(
      'reader on the new index',
      async () => (await feed('a3')).body.indexVersion,
      (v) => v === version,
      30_000,
    );
    const f = await feed('a3');
    const ann = f.body.items.filter((i) => i.source === 'ann');
    expect(ann.length).toBeGreaterThan(0);
    expect(ann.map((i) => i.itemId[0])).toEqual(ann.map(() => 'A')); // the ANN rail follows the user's taste
  });

  it('makes an item first seen after the build retrievable from the live index within the stream', async () => {
    const index = reader.indexes.get(tenant)!;
    expect(index.has('A-new')).toBe(false);
    await producer.send(['a0', 'a1', 'a2', 'a5', 'a6'].map((u) => click(u, 'A-new')));
    await stack.caughtUp();
    await eventually(
      'upsert into the live index',
      async () => reader.indexes.get(tenant)!.has('A-new'),
      (v) => v,
      30_000,
    );
    const version = (await models.currentVersion(tenant))!;
    const vector = (await models.itemVectors(tenant, version, ['A-new'])).get('A-new')!;
    const live = reader.indexes.get(tenant)!;
    const hit = live.search(vector, live.size).find((h) => h.itemId === 'A-new');
    expect(hit).toBeDefined(); // retrievable, scored by its dot product with the query (here: with itself)
    expect(hit!.score).toBeCloseTo(
      vector.reduce((s, x) => s + x * x, 0),
      2,
    );
    expect(reader.indexes.upserts).toBeGreaterThan(0);
  });

  it('swaps to a new version under load without failing a request', async () => {
    const before = (await feed('a3')).body.indexVersion;
    let stop = false;
    const statuses: number[] = [];
    const versions: string[] = [];
    const loop = async () => {
      while (!stop) {
        const r = await feed(`a${statuses.length % 15}`);
        statuses.push(r.status);
        versions.push(r.body.indexVersion);
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    let next: string;
    try {
      // new interactions move item vectors (fold-in), so the next retcon is a different version
      await producer.send(['b1', 'b2', 'b3', 'b4'].map((u) => click(u, 'A1')));
      await stack.caughtUp();
      next = await runRetcon();
      expect(next).not.toBe(before);
      await eventually(
        'load loop sees the new version',
        async () => versions.at(-1),
        (v) => v === next,
        30_000,
      );
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(versions.filter((v) => v !== before && v !== next)).toEqual([]);
    expect(reader.indexes.swaps).toBeGreaterThanOrEqual(2);
  });

  it('rebuilds the index when a new model version is trained, and on a schedule', async () => {
    const retconQ = retconQueue(config);
    const alsQ = alsQueue(config);
    const als = startAlsWorker(
      config,
      { config, clickhouse, models, scalerVersion: async () => null, logger },
      async (_r, t) => {
        await enqueueRetcon(retconQ, { tenant: t });
      },
    );
    try {
      const job = await enqueueAlsTraining(alsQ, { tenant });
      const trained = await job.waitUntilFinished(als.events, 120_000);
      const manifestOf = async () => {
        const v = await redis.get(indexCurrentKey(tenant));
        return v
          ? (JSON.parse(readFileSync(join(partitionDir(artifactsDir, tenant), v, 'manifest.json'), 'utf8')) as {
              sources: { als: string };
            })
          : null;
      };
      await eventually(
        'index rebuilt with the new model',
        manifestOf,
        (m) => m?.sources.als === trained.version,
        60_000,
      );

      const completed = await retconQ.getCompletedCount();
      await scheduleRetcon(retconQ, tenant, 500);
      await eventually(
        'a scheduled retcon ran',
        () => retconQ.getCompletedCount(),
        (n) => n > completed,
        30_000,
      );
      await retconQ.removeJobScheduler(`retcon-schedule-${tenant}`);
    } finally {
      await als.worker.close();
      await als.events.close();
      await alsQ.close();
      await retconQ.close();
    }
  });

  it('refuses a corrupted snapshot and keeps serving the current one', async () => {
    const current = (await redis.get(indexCurrentKey(tenant)))!;
    const dir = partitionDir(artifactsDir, tenant);
    const bad = 'idx-badbadbadbadbad0';
    cpSync(join(dir, current), join(dir, bad), { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, bad, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, bad, 'manifest.json'), JSON.stringify({ ...manifest, version: bad }));
    writeFileSync(join(dir, bad, 'index.hnsw'), 'truncated');
    const rejections = reader.indexes.rejections;
    await announceIndex(redis, { partition: tenant, version: bad });
    await eventually(
      'refusal',
      async () => reader.indexes.rejections,
      (n) => n === rejections + 1,
      30_000,
    );
    const f = await feed('a3');
    expect(f.status).toBe(200);
    expect(f.body.indexVersion).toBe(current);
  });
});

describe('retcon over a real log', () => {
  // The first lines of the Taobao log (DEMO_LOG_PATH, ../shared/datasets by default): its catalogue through the items
  // topic, its events through the events topic, a model trained from the ledger, then a retcon job while feeds are
  // requested without pause.
  const real = `rc-tb-${config.suffix}`.replace(/_/g, '-');
  const LINES = 3000;

  it("builds an index of the slice's catalogue and the reader swaps to it under load, failing no request", async () => {
    if (!existsSync(config.demo.logPath))
      throw new Error(`the Taobao log is missing at ${config.demo.logPath} (set DEMO_LOG_PATH)`);
    const catalog = await readTaobaoCatalog(config.demo.logPath, real, Date.now(), LINES);
    const items = await ItemProducer.connect(
      stack.kafka,
      new SchemaRegistryClient(config.schemaRegistryUrl),
      config.topics.items,
    );
    await items.send(catalog.items);
    await items.disconnect();
    const log: InteractionEvent[] = [];
    for await (const parsed of readTaobaoLog(config.demo.logPath, real)) {
      if (parsed.line > LINES) break;
      if (parsed.ok) log.push(parsed.event);
    }
    await producer.send(log);
    await stack.caughtUp();
    await waitForCaughtUp(stack.admin, [`test-${config.suffix}-catalog`], config.topics.items, 60_000);
    await trainTenantAls({ config, clickhouse, models, scalerVersion: async () => null, logger }, { tenant: real });

    const users = [...new Set(log.map((e) => e.userId))];
    let stop = false;
    const statuses: number[] = [];
    const versions: string[] = [];
    const loop = async () => {
      while (!stop) {
        const res = await fetch(`${reader.url}/v1/feeds/${users[statuses.length % users.length]}?tenant=${real}&k=10`);
        statuses.push(res.status);
        versions.push(((await res.json()) as { indexVersion: string }).indexVersion);
      }
    };
    const loops = [loop(), loop(), loop()];
    let result: RetconResult;
    try {
      const queue = retconQueue(config);
      result = await (await enqueueRetcon(queue, { tenant: real })).waitUntilFinished(events, 120_000);
      await queue.close();
      await eventually(
        'the load loop sees the new index',
        async () => versions.at(-1),
        (v) => v === result.version,
        30_000,
      );
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    expect(result.catalogItems).toBe(catalog.items.length);
    expect(result.indexedItems).toBe(catalog.items.length);
    expect(result.ledgerItems).toBeGreaterThan(1000);
    expect(statuses.length).toBeGreaterThan(30);
    expect(statuses.filter((st) => st !== 200)).toEqual([]);
    expect(new Set(versions.filter((v) => v !== 'exact' && v !== 'redis-live'))).toEqual(new Set([result.version]));
  });
});
