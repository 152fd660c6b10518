// The learned rankers of a tenant: train the batch tree ranker (LambdaMART) from its labelled impressions in
// ClickHouse, choose which ranker orders feeds (readers switch within seconds), and show the current versions.
//   npm run ranker -- train --tenant t [--days 30] [--activate]     prints the training report as JSON
//   npm run ranker -- serve --tenant t --model ftrl|lambdamart|none
//   npm run ranker -- status --tenant t
import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/config.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { RankerExampleLog } from '../state/ranker-examples.ts';
import { RankerStore, isRankerChoice, type RankerChoice } from '../state/ranker-models.ts';
import { trainTreeRankerJob } from '../jobs/tree-ranker.ts';
import { isoTimeOption, tenantOption } from './options.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'ranker');
const redis = createRedis(config);
const clickhouse = createClickHouse(config);
const rankers = new RankerStore(redis, new ArtifactStore(config.artifactsDir));

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const share = (v: string) => {
  const n = Number(v);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('must be a number between 0 and 1');
  return n;
};

const program = new Command('ranker').description(
  'learned rankers: batch tree ranker training, which ranker serves, versions',
);

program
  .command('train')
  .description("train a LambdaMART ranker from the tenant's labelled impressions and publish it (prints a JSON report)")
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .addOption(
    new Option('--days <n>', 'days of impressions to train from')
      .argParser(positiveInt('--days'))
      .default(config.ranker.trainDays),
  )
  .option(
    '--until <iso>',
    'end of the training window (default: just after the newest labelled impression)',
    isoTimeOption,
  )
  .addOption(
    new Option('--min-queries <n>', 'recommendations with a click needed to train')
      .argParser(positiveInt('--min-queries'))
      .default(50),
  )
  .addOption(
    new Option('--holdout <share>', 'newest share of recommendations held out to check the model')
      .argParser(share)
      .default(0.2),
  )
  .option('--activate', 'make it the ranker that orders feeds', false)
  .action(
    async (o: {
      tenant: string;
      days: number;
      until?: number;
      minQueries: number;
      holdout: number;
      activate: boolean;
    }) => {
      const examples = new RankerExampleLog(clickhouse, config.clickhouse.database, config.ranker.examplesTable);
      await examples.ensureTable(); // a fresh database: say there is nothing to train from, not that a table is missing
      const result = await trainTreeRankerJob(
        { config, examples, rankers, logger },
        {
          tenant: o.tenant,
          days: o.days,
          ...(o.until !== undefined ? { untilMs: o.until } : {}),
          activate: o.activate,
          minQueries: o.minQueries,
          holdoutShare: o.holdout,
        },
      );
      console.log(JSON.stringify({ ...result, params: config.ranker.lambdamart }, null, 2));
    },
  );

program
  .command('serve')
  .description("choose the ranker that orders the tenant's feeds (readers switch within 5 s)")
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .requiredOption('--model <kind>', 'ftrl | lambdamart | none', (v: string): RankerChoice => {
    if (!isRankerChoice(v)) throw new InvalidArgumentError('must be ftrl, lambdamart or none');
    return v;
  })
  .action(async ({ tenant, model }: { tenant: string; model: RankerChoice }) => {
    await rankers.setServing(tenant, model);
    console.log(
      `${tenant}: feeds are ordered by ${model === 'none' ? 'the merged rails (no learned ranker)' : `the ${model} ranker`} within 5 s`,
    );
  });

program
  .command('status')
  .description("the tenant's ranker versions and which one serves")
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .action(async ({ tenant }: { tenant: string }) => {
    console.log(JSON.stringify({ tenant, ...(await rankers.status(tenant)) }, null, 2));
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`ranker: ${(err as Error).message}`);
  process.exitCode = 1;
} finally {
  await clickhouse.close();
  redis.disconnect();
}
