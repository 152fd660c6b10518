// Click-through prediction on real impressions (Open Bandit sample: random and BTS logs of each campaign, merged in time
// order), by progressive validation: every impression is predicted before the model learns from it, as it would be
// live. The online FTRL-Proximal model (core/models/ftrl.ts) over item, slot, user features and their crosses, against
// two running baselines: the global click rate and the smoothed click rate of each (item, slot).
//   npm run eval:ctr -- [--data dir] [--out path]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { DEFAULT_FTRL, FtrlModel, auc, logLoss, logit, type Features } from '../core/models/ftrl.ts';
import {
  DEFAULT_OPEN_BANDIT_DIR,
  OPEN_BANDIT_CAMPAIGNS,
  loadOpenBanditImpressions,
  type OpenBanditImpression,
} from '../datasets/open-bandit.ts';
import { DatasetError } from '../datasets/movielens.ts';

const opts = new Command('eval:ctr')
  .option('--data <dir>', 'open-bandit-dataset directory', DEFAULT_OPEN_BANDIT_DIR)
  .option('--out <path>', 'JSON report', `.rankstream/eval/ctr-${new Date().toISOString().slice(0, 10)}.json`)
  .parse()
  .opts<{ data: string; out: string }>();

// The same 0.5% prior the baselines start from, as FTRL's base log-odds.
const PARAMS = { ...DEFAULT_FTRL, baseLogit: logit(0.005) };

/** The model's features for an impression: what a live ranker would know at request time. */
export function impressionFeatures(r: OpenBanditImpression): Features {
  const f: [string, number][] = [
    [`item=${r.item}`, 1],
    [`pos=${r.position}`, 1],
    [`item=${r.item}×pos=${r.position}`, 1],
  ];
  r.userFeatures.forEach((v, i) => {
    f.push([`u${i}=${v}`, 1]);
    f.push([`u${i}=${v}×item=${r.item}`, 1]);
  });
  if (r.affinity !== 0) f.push(['affinity', Math.log1p(Math.abs(r.affinity)) * Math.sign(r.affinity)]);
  return f;
}

function progressive(rows: OpenBanditImpression[]) {
  const labels = rows.map((r) => r.click);
  const ftrl = new FtrlModel(PARAMS);
  const pFtrl = rows.map((r) => ftrl.update(impressionFeatures(r), r.click));
  let clicks = 0;
  const pGlobal = rows.map((r, i) => {
    const p = (clicks + 0.5) / (i + 100); // a weak prior of 0.5%
    clicks += r.click;
    return p;
  });
  const cell = new Map<string, { shows: number; clicks: number }>();
  let seen = 0;
  let seenClicks = 0;
  const pCell = rows.map((r) => {
    const key = `${r.item}/${r.position}`;
    const c = cell.get(key) ?? { shows: 0, clicks: 0 };
    const prior = (seenClicks + 0.5) / (seen + 100);
    const p = (c.clicks + 20 * prior) / (c.shows + 20);
    c.shows++;
    c.clicks += r.click;
    cell.set(key, c);
    seen++;
    seenClicks += r.click;
    return p;
  });
  const score = (p: number[]) => ({ logLoss: +logLoss(p, labels).toFixed(5), auc: +auc(p, labels).toFixed(4) });
  return {
    rows: rows.length,
    clicks: labels.reduce((s: number, x) => s + x, 0),
    globalRate: score(pGlobal),
    itemSlotRate: score(pCell),
    ftrl: score(pFtrl),
  };
}

try {
  const started = performance.now();
  const report = OPEN_BANDIT_CAMPAIGNS.map((campaign) => {
    const rows = [
      ...loadOpenBanditImpressions(opts.data, 'random', campaign),
      ...loadOpenBanditImpressions(opts.data, 'bts', campaign),
    ].sort((a, b) => a.timestampMs - b.timestampMs);
    return { campaign, ...progressive(rows) };
  });
  console.log(
    'Progressive validation on Open Bandit impressions (random + BTS, time order): log loss (lower is better), AUC\n',
  );
  console.log('campaign | rows   | clicks | global rate        | (item, slot) rate  | FTRL');
  for (const r of report) {
    const s = (x: { logLoss: number; auc: number }) => `${x.logLoss.toFixed(5)} / ${x.auc.toFixed(4)}`.padEnd(18);
    console.log(
      `${r.campaign.padEnd(8)} | ${String(r.rows).padEnd(6)} | ${String(r.clicks).padEnd(6)} | ${s(r.globalRate)} | ${s(r.itemSlotRate)} | ${s(r.ftrl)}`,
    );
  }
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      { dataset: opts.data, params: PARAMS, seconds: (performance.now() - started) / 1000, report },
      null,
      2,
    ),
  );
  console.log(`\nJSON: ${out}`);
} catch (err) {
  console.error(
    `eval:ctr: ${err instanceof DatasetError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  process.exitCode = 1;
}
