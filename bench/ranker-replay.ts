// The learned rankers on real preferences, through the real stack: MovieLens users replay the first 70 % of their
// ratings as clicks; then, round after round, each user asks the reader for a feed, "sees" it (impressions with the
// recommendation id) and clicks the items they really went on to rate 4 or more later (conversions for 5), all through
// Kafka. The ranker trainer joins them in the attribution window and writes labelled impressions to ClickHouse; the
// tree ranker (LambdaMART) is trained from there (NDCG@10 on the newest recommendations, training time); then an A/B
// experiment splits users between no learned ranker, the online FTRL model and the tree ranker, and the experiment
// report reads the outcome from the ledger. Prints JSON.
//   npm run bench:ranker -- [--rounds 4] [--ab-rounds 3] [--out file]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { isolatedEnv } from '../test/support/isolated-env.ts';
import type { InteractionEvent } from '../core/events.ts';
import { experimentReport } from '../core/experiments/report.ts';
import { experimentSchema } from '../core/experiments/assignment.ts';
import { loadMovieLens } from '../datasets/movielens.ts';
import { ensureServices } from '../infra/local/services.ts';
import { trainTenantAls } from '../jobs/als-training.ts';
import { trainTreeRankerJob } from '../jobs/tree-ranker.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { deprovision, provision } from '../apps/provision.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../state/als-models.ts';
import { readUserOutcomes } from '../state/ledger.ts';
import { RankerExampleLog } from '../state/ranker-examples.ts';
import { RankerStore } from '../state/ranker-models.ts';
import { startProcessors } from '../apps/processors.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { saveExperiment } from '../state/experiments.ts';
import { startReader } from '../apps/reader.ts';
import { EventProducer } from '../streams/event-producer.ts';
import { ItemProducer } from '../streams/item-producer.ts';
import { createKafka } from '../streams/kafka.ts';
import { waitForCaughtUp } from '../streams/offsets.ts';
import { machine, printReport } from '../test/support/bench-report.ts';
import { sleep } from '../test/support/wait.ts';
import { deleteTenantKeys } from '../state/tenants.ts';

const opts = new Command('bench:ranker')
  .option('--data <dir>', 'ml-latest-small directory', '../shared/datasets/ml-latest-small')
  .option('--rounds <n>', 'feed rounds before the tree ranker is trained', (v) => Number(v), 4)
  .option('--ab-rounds <n>', 'feed rounds of the A/B experiment', (v) => Number(v), 3)
  .option('--k <n>', 'feed length', (v) => Number(v), 10)
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ data: string; rounds: number; abRounds: number; k: number; out?: string }>();
const progress = (m: string) => process.stderr.write(`bench:ranker: ${m}\n`);

const WINDOW_S = 600;
const run = Date.now().toString(36);
const artifactsDir = mkdtempSync(join(tmpdir(), 'rs-bench-ranker-'));
const config = loadConfig({
  ...process.env,
  RANKSTREAM_LOG_LEVEL: 'error',
  HTTP_PORT: '0',
  ARTIFACTS_DIR: artifactsDir,
  RANKER_ATTRIBUTION_WINDOW_S: String(WINDOW_S),
  RANKER_PUBLISH_INTERVAL_S: '5',
  RERANK_POOL_FACTOR: '5',
  ...isolatedEnv('bench-ranker', run),
});
const logger = createLogger('error', 'bench');
const tenant = `bench-ranker-${run}`;

const dataset = loadMovieLens(opts.data);
await ensureServices({ log: (l: string) => progress(`infra: ${l}`) });
await provision(config, logger);
const kafka = createKafka(config, logger);
const admin = kafka.admin();
await admin.connect();
const processors = await startProcessors(config, logger, createMetrics(false));
const reader = await startReader(config, logger, createMetrics(false), {
  groupId: `bench-ranker-${run}-reader`,
  port: 0,
});
const producer = await EventProducer.connect(
  kafka,
  new SchemaRegistryClient(config.schemaRegistryUrl),
  config.topics.events,
);
const redis = createRedis(config);
const clickhouse = createClickHouse(config);
const rankers = new RankerStore(redis, new ArtifactStore(artifactsDir));
const groups = (names: string[]) => names.map((p) => `${config.runner.groupPrefix}-${p}`);

// 1. each user's history (first 70 % of their ratings by time) as clicks; the rest, rated 4+, is what they will click
const { user: userIdx, item: itemIdx, rating: ratings, time: timestamps } = dataset.log;
const byUser = new Map<number, number[]>();
for (let r = 0; r < userIdx.length; r++) {
  const rows = byUser.get(userIdx[r]!);
  if (rows) rows.push(r);
  else byUser.set(userIdx[r]!, [r]);
}
const uid = (u: number) => `u${dataset.userIds[u]}`;
const iid = (i: number) => `m${dataset.movieIds[i]}`;
let seq = 0;
const ev = (e: Record<string, unknown>): InteractionEvent =>
  ({ eventId: `${run}-${seq++}`, tenant, context: {}, ...e }) as InteractionEvent;
// MovieLens spans 22 years; replayed as is, every consumer batch writes a part into each of hundreds of monthly
// partitions, and FINAL reads over them are slow (they go by partition groups, finalReadScopes, since one FINAL over
// them all exceeded ClickHouse 18.16's per-query memory). Only the order of events matters here, so ratings are
// replayed one minute apart, in time order, ending at a fixed date.
const order = Int32Array.from({ length: userIdx.length }, (_, r) => r).sort(
  (a, b) => timestamps[a]! - timestamps[b]! || a - b,
);
const replayedAt = new Float64Array(userIdx.length);
const T0 = Date.UTC(2026, 0, 1) - order.length * 60_000;
order.forEach((r, k) => (replayedAt[r] = T0 + k * 60_000));
const history: InteractionEvent[] = [];
const likes = new Map<string, Map<string, number>>(); // user -> liked future item -> rating
let lastTs = 0;
for (const [u, rows] of byUser) {
  rows.sort((a, b) => replayedAt[a]! - replayedAt[b]!);
  const cut = Math.floor(rows.length * 0.7);
  for (const r of rows.slice(0, cut))
    history.push(
      ev({
        type: 'click',
        userId: uid(u),
        itemId: iid(itemIdx[r]!),
        timestamp: replayedAt[r]!,
        recommendationId: null,
      }),
    );
  const future = new Map(
    rows
      .slice(cut)
      .filter((r) => ratings[r]! >= 4)
      .map((r) => [iid(itemIdx[r]!), ratings[r]!] as const),
  );
  if (future.size > 0) likes.set(uid(u), future);
  for (const r of rows) lastTs = Math.max(lastTs, replayedAt[r]!);
}
history.sort((a, b) => a.timestamp - b.timestamp);
// the catalogue: genres (the first as the category) and the first rating as the time the movie entered
const firstSeen = new Map<number, number>();
for (let r = 0; r < itemIdx.length; r++)
  firstSeen.set(itemIdx[r]!, Math.min(firstSeen.get(itemIdx[r]!) ?? Infinity, replayedAt[r]!));
const catalogue = [...firstSeen].map(([i, at]) => ({
  tenant,
  itemId: iid(i),
  attributes: { category: [dataset.genres[i]![0] ?? 'none'], genre: dataset.genres[i]!, title: [dataset.titles[i]!] },
  numeric: {},
  createdAt: at,
  updatedAt: at,
  deleted: false,
}));
const itemProducer = await ItemProducer.connect(
  kafka,
  new SchemaRegistryClient(config.schemaRegistryUrl),
  config.topics.items,
);
for (let i = 0; i < catalogue.length; i += 2000) await itemProducer.send(catalogue.slice(i, i + 2000));
await itemProducer.disconnect();
progress(`replaying ${history.length} history clicks of ${byUser.size} users; ${likes.size} users have future likes`);
for (let i = 0; i < history.length; i += 5000) await producer.send(history.slice(i, i + 5000));
await waitForCaughtUp(admin, groups(['ledger-writer', 'features', 'als-fold-in']), config.topics.events, 300_000);
await waitForCaughtUp(admin, groups(['catalog']), config.topics.items, 300_000);
const als = (
  await trainTenantAls(
    {
      config,
      clickhouse,
      models: new AlsModelStore(redis, new ArtifactStore(artifactsDir)),
      scalerVersion: async () => null,
      logger,
    },
    { tenant },
  )
).result;
progress(`ALS ${als.nUsers} users x ${als.nItems} items in ${als.trainSeconds.toFixed(1)} s`);

// 2. rounds of feeds: users see them and click what they really liked later
const clicked = new Map<string, Set<string>>();
let clock = lastTs + 86_400_000;
const totals = { feeds: 0, impressions: 0, clicks: 0, conversions: 0, emptyFeeds: 0 };
async function round(label: string): Promise<{ impressions: number; clicks: number }> {
  const users = [...likes.keys()];
  const events: InteractionEvent[] = [];
  let impressions = 0;
  let clicks = 0;
  const shownAt = clock;
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++]!;
      const res = await fetch(`${reader.url}/v1/feeds/${user}?tenant=${tenant}&k=${opts.k}`);
      if (res.status !== 200) throw new Error(`feed for ${user}: HTTP ${res.status} ${await res.text()}`);
      const feed = (await res.json()) as { recommendationId: string; items: { itemId: string }[] };
      totals.feeds++;
      if (feed.items.length === 0) totals.emptyFeeds++;
      const done = clicked.get(user) ?? new Set<string>();
      clicked.set(user, done);
      feed.items.forEach((item, position) => {
        impressions++;
        events.push(
          ev({
            type: 'impression',
            userId: user,
            itemId: item.itemId,
            recommendationId: feed.recommendationId,
            position,
            feedId: 'home',
            timestamp: shownAt + position,
          }),
        );
        const rating = likes.get(user)!.get(item.itemId);
        if (rating === undefined || done.has(item.itemId)) return;
        done.add(item.itemId);
        clicks++;
        events.push(
          ev({
            type: 'click',
            userId: user,
            itemId: item.itemId,
            recommendationId: feed.recommendationId,
            timestamp: shownAt + 30_000 + position,
          }),
        );
        if (rating >= 5) {
          totals.conversions++;
          events.push(
            ev({
              type: 'conversion',
              userId: user,
              itemId: item.itemId,
              recommendationId: feed.recommendationId,
              value: 1,
              timestamp: shownAt + 60_000 + position,
            }),
          );
        }
      });
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  events.sort((a, b) => a.timestamp - b.timestamp);
  for (let i = 0; i < events.length; i += 5000) await producer.send(events.slice(i, i + 5000));
  totals.impressions += impressions;
  totals.clicks += clicks;
  clock += 2 * WINDOW_S * 1000; // the next round's events close this round's attribution windows
  await waitForCaughtUp(
    admin,
    groups(['ledger-writer', 'features', 'als-fold-in', 'ranker-trainer']),
    config.topics.events,
    300_000,
  );
  progress(
    `${label}: ${impressions} impressions, ${clicks} clicks (CTR ${((100 * clicks) / impressions).toFixed(2)} %)`,
  );
  return { impressions, clicks };
}

const phaseA: { impressions: number; clicks: number; ranker: string | null }[] = [];
for (let r = 0; r < opts.rounds; r++) {
  const serving = await rankers.current(tenant);
  phaseA.push({ ...(await round(`round ${r + 1}`)), ranker: serving?.version ?? null });
  await sleep(5_500); // a publish interval: the trainer's next batch publishes FTRL
}
// close the last round's windows, then train the tree ranker from the labelled impressions in ClickHouse
await producer.send([ev({ type: 'click', userId: 'tick', itemId: 'tick', timestamp: clock, recommendationId: null })]);
await waitForCaughtUp(admin, groups(['ranker-trainer']), config.topics.events, 300_000);
const examples = new RankerExampleLog(clickhouse, config.clickhouse.database, config.ranker.examplesTable);
const tree = await trainTreeRankerJob(
  { config, examples, rankers, logger },
  { tenant, days: 3650, activate: false, minQueries: 50, holdoutShare: 0.2 },
);
progress(`tree ranker: ${JSON.stringify(tree.holdoutNdcg)} in ${tree.trainSeconds.toFixed(1)} s`);

// 3. A/B: no learned ranker / FTRL / trees, by user hash; outcomes from the ledger through the experiment report
const experiment = experimentSchema.parse({
  id: 'rankers',
  salt: run,
  variants: [
    { name: 'none', weight: 1, overrides: { ranker: 'none' } },
    { name: 'ftrl', weight: 1, overrides: { ranker: 'ftrl' } },
    { name: 'lambdamart', weight: 1, overrides: { ranker: 'lambdamart' } },
  ],
});
await saveExperiment(redis, tenant, experiment);
await sleep(5_500); // readers pick experiments up within 5 s
const abStart = clock;
for (let r = 0; r < opts.abRounds; r++) await round(`A/B round ${r + 1}`);
const outcomes = await readUserOutcomes(clickhouse, config.clickhouse.database, config.ledger.table, {
  tenant,
  sinceMs: abStart,
});
const report = experimentReport(experiment, outcomes);
const againstFtrl = new Map(
  experimentReport({ ...experiment, control: 'ftrl' }, outcomes).map((v) => [v.variant, v.vsControl]),
);
const pct = (x: number) => +(100 * x).toFixed(3);
const compared = (c: (typeof report)[number]['vsControl']) =>
  c
    ? {
        ctrDiffPct: pct(c.ctr.difference),
        relativeLift: +c.ctr.relativeLift.toFixed(3),
        pValue: +c.ctr.pValue.toFixed(4),
        significant: c.ctr.significant,
      }
    : null;

printReport(
  {
    benchmark: 'ranker-replay',
    machine: machine(),
    dataset: opts.data,
    protocol: `history: first 70 % of each user's ratings as clicks; feeds of ${opts.k}; a shown item is clicked when the user rated it >= 4 later (conversion for 5), once; attribution window ${WINDOW_S} s`,
    users: likes.size,
    als: { users: als.nUsers, items: als.nItems, trainSeconds: +als.trainSeconds.toFixed(1) },
    collection: phaseA.map((p, i) => ({
      round: i + 1,
      ranker: p.ranker,
      impressions: p.impressions,
      clicks: p.clicks,
      ctrPct: pct(p.clicks / p.impressions),
    })),
    treeRanker: {
      version: tree.version,
      labelledImpressions: tree.examples,
      queries: tree.queries,
      documents: tree.documents,
      trainQueries: tree.trainQueries,
      holdoutQueries: tree.holdoutQueries,
      holdoutNdcgAt10: Object.fromEntries(Object.entries(tree.holdoutNdcg).map(([k, v]) => [k, +v.toFixed(4)])),
      trainSeconds: +tree.trainSeconds.toFixed(2),
      readSeconds: +tree.readSeconds.toFixed(2),
      params: config.ranker.lambdamart,
    },
    abTest: report.map((v) => ({
      variant: v.variant,
      users: v.users,
      impressions: v.impressions,
      clicks: v.clicks,
      ctrPct: pct(v.ctr.value),
      ctrSePct: pct(v.ctr.se),
      conversionRatePct: pct(v.conversionRate.value),
      vsNone: compared(v.vsControl),
      vsFtrl: compared(againstFtrl.get(v.variant) ?? null),
    })),
    totals,
  },
  opts.out,
);

await producer.disconnect();
await reader.stop();
await processors.stop();
await admin.disconnect();
await clickhouse.close();
await deprovision(config, logger);
await deleteTenantKeys(redis, tenant);
redis.disconnect();
rmSync(artifactsDir, { recursive: true, force: true });
