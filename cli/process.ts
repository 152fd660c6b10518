// Runs the event processors (ledger writer, popularity) until SIGTERM.
import { loadConfig } from '../core/config.ts';
import { provision } from '../platform/bootstrap.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { startProcessors } from '../processors/run-processors.ts';
import { onShutdown } from './shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'processors');
await provision(config, logger);
const processors = await startProcessors(config, logger, createMetrics());
logger.info({ topic: config.topics.events }, 'processors running');
onShutdown(logger, () => processors.stop());
