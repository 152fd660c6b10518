// ALS batch training: enqueue a training job (deduplicated per tenant), run the BullMQ worker, or train in-process.
import { QueueEvents } from 'bullmq';
import { Command } from 'commander';
import { loadConfig, type Config } from '../config/config.ts';
import { createLogger } from '../platform/logger.ts';
import type { Redis } from '../platform/redis.ts';
import { currentScalerVersion } from '../state/scaler-versions.ts';
import {
  alsQueue,
  enqueueAlsTraining,
  startAlsWorker,
  trainTenantAls,
  type AlsTrainingDeps,
} from '../jobs/als-training.ts';
import { enqueueRetcon, retconQueue } from '../jobs/retcon.ts';
import { startWorkerOps } from '../apps/worker-ops.ts';
import { openJobDeps } from '../apps/job-deps.ts';
import { onShutdown } from '../apps/shutdown.ts';
import { isoTimeOption, ledgerSliceOptions, tenantOption } from './options.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'als');

function trainingDeps(cfg: Config): { d: AlsTrainingDeps; redis: Redis; close: () => Promise<void> } {
  const deps = openJobDeps(cfg, logger);
  return {
    d: { ...deps, scalerVersion: (t) => currentScalerVersion(deps.redis, t) },
    redis: deps.redis,
    close: deps.close,
  };
}

interface TrainOpts {
  tenant: string;
  since?: number;
  until?: number;
  wait: boolean;
  inline: boolean;
}

const program = new Command('als').description('ALS batch training');
program
  .command('train')
  .requiredOption('--tenant <id>', 'tenant', tenantOption)
  .option('--since <iso>', 'only events at or after this time', isoTimeOption)
  .option('--until <iso>', 'only events before this time', isoTimeOption)
  .option('--wait', 'wait for the job to finish and print its result', false)
  .option('--inline', 'train in this process instead of queueing a job', false)
  .action(async (o: TrainOpts) => {
    const req = ledgerSliceOptions(o);
    if (o.inline) {
      const { d, close } = trainingDeps(config);
      try {
        console.log(JSON.stringify((await trainTenantAls(d, req)).result, null, 2));
      } finally {
        await close();
      }
      return;
    }
    const queue = alsQueue(config);
    const job = await enqueueAlsTraining(queue, req);
    console.log(
      `queued ALS training for ${o.tenant} as job ${job.id} (a job already waiting or running for the tenant is reused)`,
    );
    if (o.wait) {
      const events = new QueueEvents(queue.name, { connection: queue.opts.connection, prefix: config.queuePrefix });
      console.log(JSON.stringify(await job.waitUntilFinished(events), null, 2));
      await events.close();
    }
    await queue.close();
  });
program
  .command('worker')
  .description('run the BullMQ worker that trains queued jobs, until SIGTERM')
  .action(async () => {
    const { d, redis, close } = trainingDeps(config);
    const retcon = retconQueue(config);
    // every new model version triggers a retcon of the tenant's index (deduplicated per tenant)
    const { worker, events } = startAlsWorker(config, d, async (_result, tenant) => {
      await enqueueRetcon(retcon, { tenant });
    });
    const queue = alsQueue(config);
    const ops = await startWorkerOps({
      host: config.ops.processorHttp.host,
      port: config.ops.alsWorkerHttpPort,
      worker,
      queue,
      redis,
      logger,
    });
    logger.info('ALS worker running');
    onShutdown(
      logger,
      async () => {
        ops.readiness.drain();
        await worker.close(); // the job in flight finishes (or is picked up again as stalled after the timeout)
        await queue.close();
        await ops.server.close();
        await events.close();
        await retcon.close();
        await close();
      },
      config.ops.shutdownTimeoutS * 1000,
    );
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`als: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
