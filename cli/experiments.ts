// A/B experiments: create or replace one for a tenant from a JSON file, list them, stop one, and report one from the
// ClickHouse ledger (CTR, conversion rate and revenue per user per variant, with intervals and a test against the
// control). Users are assigned by hashing, so the report recomputes each user's variant from the experiment's salt.
//   npm run experiments -- create --tenant t --file experiment.json
//   npm run experiments -- report --tenant t --id diversity [--since iso] [--until iso] [--json]
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/config.ts';
import { experimentReport, type MetricEstimate, type VariantReport } from '../core/experiments/report.ts';
import { controlOf, experimentSchema } from '../core/experiments/assignment.ts';
import { formatIssues } from '../core/events.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createRedis } from '../platform/redis.ts';
import { readUserOutcomes } from '../state/ledger.ts';
import { getExperiment, listExperiments, saveExperiment } from '../state/experiments.ts';
import { isoTimeOption, ledgerSliceOptions, tenantOption } from './options.ts';

const config = loadConfig();
const redis = createRedis(config);
const program = new Command('experiments').description(
  'A/B experiments: deterministic user -> variant assignment, reports from the ledger',
);

program
  .command('create')
  .description(
    'create or replace an experiment (JSON: {id, salt, variants:[{name, weight, overrides}], control?, active?})',
  )
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .requiredOption('--file <path>', 'experiment JSON')
  .action(async ({ tenant, file }: { tenant: string; file: string }) => {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new InvalidArgumentError(`${file}: ${(err as Error).message}`);
    }
    const parsed = experimentSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidArgumentError(`${file}: ${formatIssues(parsed.error.issues)}`);
    await saveExperiment(redis, tenant, parsed.data);
    console.log(
      `experiment ${parsed.data.id} saved for ${tenant} (${parsed.data.variants.map((v) => `${v.name}:${v.weight}`).join(', ')}); readers pick it up within 5 s`,
    );
  });

program
  .command('list')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .action(async ({ tenant }: { tenant: string }) =>
    console.log(JSON.stringify(await listExperiments(redis, tenant), null, 2)),
  );

program
  .command('stop')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .requiredOption('--id <id>', 'experiment')
  .action(async ({ tenant, id }: { tenant: string; id: string }) => {
    const e = await getExperiment(redis, tenant, id);
    if (!e) throw new InvalidArgumentError(`no experiment ${id} for ${tenant}`);
    await saveExperiment(redis, tenant, { ...e, active: false });
    console.log(`experiment ${id} stopped: every user gets the base settings within 5 s`);
  });

const pct = (m: MetricEstimate) =>
  `${(m.value * 100).toFixed(3)}% [${(m.ci95[0] * 100).toFixed(3)}, ${(m.ci95[1] * 100).toFixed(3)}]`;
const money = (m: MetricEstimate) => `${m.value.toFixed(3)} [${m.ci95[0].toFixed(3)}, ${m.ci95[1].toFixed(3)}]`;
let control = '';
const vs = (v: VariantReport, key: 'ctr' | 'conversionRate' | 'revenuePerUser') => {
  const c = v.vsControl?.[key];
  if (!c) return v.variant === control ? 'control' : 'no users yet';
  return `${c.relativeLift >= 0 ? '+' : ''}${(c.relativeLift * 100).toFixed(1)}% p=${c.pValue.toFixed(4)}${c.significant ? ' *' : ''}`;
};

program
  .command('report')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .requiredOption('--id <id>', 'experiment')
  .option('--since <iso>', 'events at or after', isoTimeOption)
  .option('--until <iso>', 'events before', isoTimeOption)
  .option('--json', 'print JSON only', false)
  .action(async (o: { tenant: string; id: string; since?: number; until?: number; json: boolean }) => {
    const e = await getExperiment(redis, o.tenant, o.id);
    if (!e) throw new InvalidArgumentError(`no experiment ${o.id} for ${o.tenant}`);
    const clickhouse = createClickHouse(config);
    try {
      const outcomes = await readUserOutcomes(
        clickhouse,
        config.clickhouse.database,
        config.ledger.table,
        ledgerSliceOptions(o),
      );
      const report = experimentReport(e, outcomes);
      control = controlOf(e);
      if (o.json) return console.log(JSON.stringify({ experiment: e.id, tenant: o.tenant, variants: report }, null, 2));
      console.log(
        `experiment ${e.id} (${o.tenant}): users with an impression, 95% intervals, * = p < 0.05 against the control\n`,
      );
      console.log(
        'variant      | users  | impressions | CTR                       | vs control         | conversion rate           | vs control         | revenue/user              | vs control',
      );
      for (const v of report) {
        console.log(
          `${v.variant.padEnd(12)} | ${String(v.users).padStart(6)} | ${String(v.impressions).padStart(11)} | ${pct(v.ctr).padEnd(25)} | ${vs(v, 'ctr').padEnd(18)} | ${pct(v.conversionRate).padEnd(25)} | ${vs(v, 'conversionRate').padEnd(18)} | ${money(v.revenuePerUser).padEnd(25)} | ${vs(v, 'revenuePerUser')}`,
        );
      }
    } finally {
      await clickhouse.close();
    }
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`experiments: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  redis.disconnect();
}
