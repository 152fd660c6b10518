// Retcon: rebuild a tenant's HNSW index from the ledger with the current models (queued and deduplicated per tenant,
// or in this process), or run the BullMQ worker that executes queued retcon jobs.
import { QueueEvents } from 'bullmq';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/config.ts';
import { createLogger } from '../platform/logger.ts';
import { bullConnection } from '../platform/queue-connection.ts';
import {
  RETCON_QUEUE,
  enqueueRetcon,
  retconPartitions,
  retconQueue,
  retconTenant,
  scheduleRetcon,
  startRetconWorker,
} from '../jobs/retcon.ts';
import { startWorkerOps } from '../apps/worker-ops.ts';
import { openJobDeps } from '../apps/job-deps.ts';
import { isoTimeOption, ledgerSliceOptions, tenantOption } from './options.ts';
import { onShutdown } from '../apps/shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'retcon');

interface RunOpts {
  tenant?: string;
  all: boolean;
  since?: number;
  until?: number;
  wait: boolean;
  inline: boolean;
}

const program = new Command('retcon').description(
  'Re-embed history with the current models into a new, hot-swapped index',
);
program
  .command('run')
  .option('--tenant <id>', 'the partition to rebuild: a tenant, or the community partition', tenantOption)
  .option(
    '--all',
    'every tenant with data and the community partition (those without an ALS model yet are skipped)',
    false,
  )
  .option('--since <iso>', 'only items with events at or after this time', isoTimeOption)
  .option('--until <iso>', 'only items with events before this time', isoTimeOption)
  .option('--wait', 'wait for the jobs and print their results', false)
  .option('--inline', 'run in this process instead of queueing jobs', false)
  .action(async (o: RunOpts) => {
    if ((o.tenant === undefined) === !o.all) throw new InvalidArgumentError('give either --tenant <id> or --all');
    const deps = openJobDeps(config, logger);
    const queue = retconQueue(config);
    const events =
      o.wait && !o.inline
        ? new QueueEvents(RETCON_QUEUE, { connection: bullConnection(config), prefix: config.queuePrefix })
        : null;
    try {
      const partitions = o.all ? await retconPartitions(deps.redis, config.communityPartition) : [o.tenant!];
      for (const partition of partitions) {
        if (o.all && !(await deps.models.currentVersion(partition))) {
          console.log(`${partition}: skipped (no ALS model yet)`);
          continue;
        }
        const req = ledgerSliceOptions({ ...o, tenant: partition });
        if (o.inline) {
          console.log(JSON.stringify((await retconTenant(deps, req)).result, null, 2));
          continue;
        }
        const job = await enqueueRetcon(queue, req);
        console.log(
          `queued retcon for ${partition} as job ${job.id} (a job already waiting or running for it is reused)`,
        );
        if (events) console.log(JSON.stringify(await job.waitUntilFinished(events), null, 2));
      }
    } finally {
      await events?.close();
      await queue.close();
      await deps.close();
    }
  });
program
  .command('schedule')
  .description("rebuild the tenant's index periodically (replaces its previous schedule)")
  .requiredOption('--tenant <id>', 'tenant (its partition)', tenantOption)
  .requiredOption('--every <minutes>', 'interval in minutes', (v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < 1) throw new InvalidArgumentError('at least 1 minute');
    return n;
  })
  .action(async ({ tenant, every }: { tenant: string; every: number }) => {
    const queue = retconQueue(config);
    await scheduleRetcon(queue, tenant, every * 60_000);
    console.log(`retcon of ${tenant} scheduled every ${every} min (run \`npm run retcon -- worker\` to execute it)`);
    await queue.close();
  });
program
  .command('worker')
  .description('run the BullMQ worker for retcon jobs, until SIGTERM')
  .action(async () => {
    const deps = openJobDeps(config, logger);
    const worker = startRetconWorker(config, deps);
    const queue = retconQueue(config);
    const ops = await startWorkerOps({
      host: config.ops.processorHttp.host,
      port: config.ops.retconWorkerHttpPort,
      worker,
      queue,
      redis: deps.redis,
      logger,
    });
    logger.info('retcon worker running');
    onShutdown(
      logger,
      async () => {
        ops.readiness.drain();
        await worker.close();
        await queue.close();
        await ops.server.close();
        await deps.close();
      },
      config.ops.shutdownTimeoutS * 1000,
    );
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`retcon: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
