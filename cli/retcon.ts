// Retcon: rebuild a tenant's HNSW index from the ledger with the current models (queued and deduplicated per tenant,
// or in this process), or run the BullMQ worker that executes queued retcon jobs.
import { QueueEvents } from 'bullmq';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../core/config.ts';
import { createLogger } from '../platform/logger.ts';
import { bullConnection } from '../jobs/queue-connection.ts';
import { RETCON_QUEUE, enqueueRetcon, retconQueue, retconTenant, scheduleRetcon, startRetconWorker } from '../jobs/retcon.ts';
import { openJobDeps } from './job-deps.ts';
import { isoTimeOption, ledgerSliceOptions, tenantOption } from './options.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'retcon');

interface RunOpts { tenant: string; since?: number; until?: number; wait: boolean; inline: boolean }

const program = new Command('retcon').description('Re-embed history with the current models into a new, hot-swapped index');
program
  .command('run')
  .requiredOption('--tenant <id>', 'tenant (its partition)', tenantOption)
  .option('--since <iso>', 'only items with events at or after this time', isoTimeOption)
  .option('--until <iso>', 'only items with events before this time', isoTimeOption)
  .option('--wait', 'wait for the job and print its result', false)
  .option('--inline', 'run in this process instead of queueing a job', false)
  .action(async (o: RunOpts) => {
    const req = ledgerSliceOptions(o);
    if (o.inline) {
      const deps = openJobDeps(config, logger);
      try {
        console.log(JSON.stringify((await retconTenant(deps, req)).result, null, 2));
      } finally {
        await deps.close();
      }
      return;
    }
    const queue = retconQueue(config);
    const job = await enqueueRetcon(queue, req);
    console.log(`queued retcon for ${o.tenant} as job ${job.id} (a job already waiting or running for the tenant is reused)`);
    if (o.wait) {
      const events = new QueueEvents(RETCON_QUEUE, { connection: bullConnection(config), prefix: config.queuePrefix });
      console.log(JSON.stringify(await job.waitUntilFinished(events), null, 2));
      await events.close();
    }
    await queue.close();
  });
program
  .command('schedule')
  .description('rebuild the tenant\'s index periodically (replaces its previous schedule)')
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
    logger.info('retcon worker running');
    onShutdown(logger, async () => {
      await worker.close();
      await deps.close();
    });
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`retcon: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
