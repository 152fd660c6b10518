// Runs the reader (feed requests topic + HTTP API with /livez, /readyz, /metrics) until SIGTERM.
import { loadConfig } from '../config/config.ts';
import { provision } from '../apps/provision.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { startReader } from '../apps/reader.ts';
import { onShutdown } from '../apps/shutdown.ts';

const config = loadConfig();
const logger = createLogger(config.logLevel, 'reader');
await provision(config, logger);
const reader = await startReader(config, logger, createMetrics());
logger.info({ url: reader.url }, 'reader listening');
onShutdown(logger, () => reader.stop(), config.ops.shutdownTimeoutS * 1000);
