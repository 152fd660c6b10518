// Runs the event processors (ledger writer, features, scaler, ALS fold-in, ranker trainer) and the catalogue processor
// until SIGTERM, with a small HTTP server for probes and Prometheus on PROCESSOR_HTTP_HOST:PROCESSOR_HTTP_PORT:
// /livez (and /healthz), /readyz (every consumer joined its group; not while shutting down), /metrics (with lag).
import { loadConfig } from '../core/config.ts';
import { provision } from '../platform/bootstrap.ts';
import { consumersCheck, Readiness } from '../platform/health.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { startOpsServer } from '../platform/ops-server.ts';
import { startProcessors } from '../processors/run-processors.ts';
import { createKafka } from '../streams/kafka.ts';
import { startLagMonitor } from '../streams/lag-monitor.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'processors');
const metrics = createMetrics();
const readiness = new Readiness([consumersCheck(metrics.consumers)]);
// up before provisioning, so liveness answers (and readiness says why not) while topics and schemas are set up
const ops = await startOpsServer({ host: config.ops.processorHttp.host, port: config.ops.processorHttp.port, metrics, readiness, logger });
logger.info({ url: ops.url }, 'health and metrics listening');
await provision(config, logger);
const processors = await startProcessors(config, logger, metrics);
const lag = await startLagMonitor(createKafka(config, logger), metrics, logger, config.ops.lagIntervalS * 1000);
logger.info({ topic: config.topics.events }, 'processors running');
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
