// Runs the event processors (ledger writer, features, scaler, ALS fold-in, ranker trainer) and the catalogue processor
// until SIGTERM, with a small HTTP server for probes and Prometheus on PROCESSOR_HTTP_HOST:PROCESSOR_HTTP_PORT:
// /livez (and /healthz), /readyz (every consumer joined its group; not while shutting down), /metrics (with lag).
// `--only ledger-writer,features` runs a subset (each processor has its own consumer group), e.g. one process each.
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig } from '../config/config.ts';
import { provision } from '../apps/provision.ts';
import { consumersCheck, Readiness } from '../platform/health.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { startOpsServer } from '../platform/ops-server.ts';
import { PROCESSOR_NAMES, startProcessors, type ProcessorName } from '../apps/processors.ts';
import { createKafka } from '../streams/kafka.ts';
import { startLagMonitor } from '../streams/lag-monitor.ts';
import { onShutdown } from '../apps/shutdown.ts';

function processorList(value: string): ProcessorName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const unknown = names.filter((n) => !(PROCESSOR_NAMES as readonly string[]).includes(n));
  if (names.length === 0 || unknown.length > 0)
    throw new InvalidArgumentError(
      `expected a comma-separated list of ${PROCESSOR_NAMES.join(', ')}${unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''}`,
    );
  return names as ProcessorName[];
}

const opts = new Command('process')
  .description(
    'Run the stream processors until SIGTERM, with health and metrics on PROCESSOR_HTTP_HOST:PROCESSOR_HTTP_PORT.',
  )
  .option('--only <names>', `run only these processors (comma-separated: ${PROCESSOR_NAMES.join(', ')})`, processorList)
  .parse()
  .opts<{ only?: ProcessorName[] }>();

const config = loadConfig();
const logger = createLogger(config.logLevel, 'processors');
const metrics = createMetrics();
const readiness = new Readiness([consumersCheck(metrics.consumers)]);
// up before provisioning, so liveness answers (and readiness says why not) while topics and schemas are set up
const ops = await startOpsServer({
  host: config.ops.processorHttp.host,
  port: config.ops.processorHttp.port,
  metrics,
  readiness,
  logger,
});
logger.info({ url: ops.url }, 'health and metrics listening');
await provision(config, logger);
const processors = await startProcessors(
  config,
  logger,
  metrics,
  config.runner.groupPrefix,
  opts.only === undefined ? {} : { only: opts.only },
);
const lag = await startLagMonitor(createKafka(config, logger), metrics, logger, config.ops.lagIntervalS * 1000);
logger.info({ topic: config.topics.events, processors: opts.only ?? PROCESSOR_NAMES }, 'processors running');
onShutdown(
  logger,
  async () => {
    readiness.drain();
    await processors.stop(); // each consumer finishes and commits its batch in flight, then leaves its group
    await lag.stop();
    await ops.close(); // last: probes and scrapes answer while draining
  },
  config.ops.shutdownTimeoutS * 1000,
);
