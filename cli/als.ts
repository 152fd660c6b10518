// ALS batch training: enqueue a training job (deduplicated per tenant), run the BullMQ worker, or train in-process.
import { QueueEvents } from 'bullmq';
import { Command } from 'commander';
import { loadConfig, type Config } from '../core/config.ts';
import { tenantId } from '../core/events.ts';
import { ArtifactStore } from '../platform/artifact-store.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createLogger } from '../platform/logger.ts';
import { createRedis } from '../platform/redis.ts';
import { AlsModelStore } from '../processors/als-model-store.ts';
import { scalerCurrentKey } from '../processors/scaler.ts';
import { alsQueue, enqueueAlsTraining, startAlsWorker, trainTenantAls, type AlsTrainingDeps } from '../jobs/als-training.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'als');

function tenantArg(value: string): string {
  const t = tenantId.safeParse(value);
  if (!t.success) throw new Error(`--tenant: ${t.error.issues[0]?.message ?? 'invalid'}`);
  return t.data;
}
function timeArg(value: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new Error(`not an ISO date: ${value}`);
  return ms;
}

function deps(cfg: Config) {
  const redis = createRedis(cfg);
  const clickhouse = createClickHouse(cfg);
  const d: AlsTrainingDeps = { config: cfg, clickhouse, models: new AlsModelStore(redis, new ArtifactStore(cfg.artifactsDir)), scalerVersion: (t) => redis.get(scalerCurrentKey(t)), logger };
  return { d, close: async () => { await clickhouse.close(); redis.disconnect(); } };
}

interface TrainOpts { tenant: string; since?: number; until?: number; wait: boolean; inline: boolean }

const program = new Command('als').description('ALS batch training');
program
  .command('train')
  .requiredOption('--tenant <id>', 'tenant', tenantArg)
  .option('--since <iso>', 'only events at or after this time', timeArg)
  .option('--until <iso>', 'only events before this time', timeArg)
  .option('--wait', 'wait for the job to finish and print its result', false)
  .option('--inline', 'train in this process instead of queueing a job', false)
  .action(async (o: TrainOpts) => {
    const req = { tenant: o.tenant, ...(o.since !== undefined ? { sinceMs: o.since } : {}), ...(o.until !== undefined ? { untilMs: o.until } : {}) };
    if (o.inline) {
      const { d, close } = deps(config);
      try {
        console.log(JSON.stringify((await trainTenantAls(d, req)).result, null, 2));
      } finally {
        await close();
      }
      return;
    }
    const queue = alsQueue(config);
    const job = await enqueueAlsTraining(queue, req);
    console.log(`queued ALS training for ${o.tenant} as job ${job.id} (a job already waiting or running for the tenant is reused)`);
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
    const { d, close } = deps(config);
    const { worker, events } = startAlsWorker(config, d);
    logger.info('ALS worker running');
    onShutdown(logger, async () => {
      await worker.close();
      await events.close();
      await close();
    });
  });

try {
  await program.parseAsync();
} catch (err) {
  console.error(`als: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
