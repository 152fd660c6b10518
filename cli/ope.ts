// Off-policy evaluation on the Open Bandit sample: estimate the Bernoulli-Thompson-sampling policy's click rate from
// the log of the uniform-random policy (IPS, SNIPS, doubly robust, with bootstrap intervals), next to the click rate
// the BTS policy actually logged. The BTS policy is taken as its average action distribution per slot in its own log.
// Also a sanity row: the random policy evaluated on its own log (every weight 1: IPS must equal its logged rate).
//   npm run ope -- [--data dir] [--resamples 2000] [--out path]
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import {
  empiricalPolicy,
  evaluatePolicy,
  onPolicyValue,
  type ActionDistribution,
  type Estimate,
} from '../core/eval/off-policy.ts';
import { DEFAULT_OPEN_BANDIT_DIR, OPEN_BANDIT_CAMPAIGNS, loadOpenBandit } from '../datasets/open-bandit.ts';
import { DatasetError } from '../datasets/movielens.ts';

const opts = new Command('ope')
  .description('Off-policy evaluation of the BTS policy from the random log of the Open Bandit sample')
  .option('--data <dir>', 'open-bandit-dataset directory', DEFAULT_OPEN_BANDIT_DIR)
  .option(
    '--resamples <n>',
    'bootstrap resamples',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 100) throw new InvalidArgumentError('--resamples must be an integer >= 100');
      return n;
    },
    2000,
  )
  .option('--out <path>', 'JSON report', `.rankstream/eval/ope-${new Date().toISOString().slice(0, 10)}.json`)
  .parse()
  .opts<{ data: string; resamples: number; out: string }>();

const fmt = (e: Estimate) =>
  `${(e.value * 100).toFixed(3)}% [${(e.ci95[0] * 100).toFixed(3)}, ${(e.ci95[1] * 100).toFixed(3)}]`;
const uniform = (nActions: number, nContexts: number): ActionDistribution => ({
  nActions,
  nContexts,
  p: new Float64Array(nActions * nContexts).fill(1 / nActions),
});

try {
  const report = OPEN_BANDIT_CAMPAIGNS.map((campaign) => {
    const random = loadOpenBandit(opts.data, 'random', campaign);
    const bts = loadOpenBandit(opts.data, 'bts', campaign);
    const seed = campaign === 'men' ? 1 : 2;
    const truth = onPolicyValue(bts, opts.resamples, seed);
    const estimate = evaluatePolicy(random, empiricalPolicy(bts), { resamples: opts.resamples, seed });
    const sanity = evaluatePolicy(random, uniform(random.nActions, random.nContexts), {
      resamples: opts.resamples,
      seed,
    });
    const covered = (e: Estimate) => e.ci95[0] <= truth.value && truth.value <= e.ci95[1];
    return {
      campaign,
      rows: { random: random.action.length, bts: bts.action.length },
      clicks: { random: random.reward.reduce((s, x) => s + x, 0), bts: bts.reward.reduce((s, x) => s + x, 0) },
      btsLoggedCtr: truth,
      btsEstimatedFromRandomLog: estimate,
      relativeError: {
        ips: estimate.ips.value / truth.value - 1,
        snips: estimate.snips.value / truth.value - 1,
        dr: estimate.dr.value / truth.value - 1,
      },
      truthInsideCi: { ips: covered(estimate.ips), snips: covered(estimate.snips), dr: covered(estimate.dr) },
      sanityRandomOnItsOwnLog: { ips: sanity.ips, loggedCtr: onPolicyValue(random, opts.resamples, seed) },
    };
  });
  console.log('Off-policy evaluation of BTS from the random log (click rate, 95% bootstrap CI)\n');
  console.log(
    'campaign | BTS logged (truth)          | IPS                         | SNIPS                       | DR',
  );
  for (const r of report)
    console.log(
      `${r.campaign.padEnd(8)} | ${fmt(r.btsLoggedCtr).padEnd(27)} | ${fmt(r.btsEstimatedFromRandomLog.ips).padEnd(27)} | ${fmt(r.btsEstimatedFromRandomLog.snips).padEnd(27)} | ${fmt(r.btsEstimatedFromRandomLog.dr)}`,
    );
  const out = resolve(opts.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify({ dataset: opts.data, resamples: opts.resamples, report }, null, 2));
  console.log(`\nJSON: ${out}`);
  console.log(JSON.stringify(report, null, 2));
} catch (err) {
  console.error(
    `ope: ${err instanceof DatasetError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
  );
  process.exitCode = 1;
}
