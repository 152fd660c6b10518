// Graceful shutdown for long-running commands: on SIGTERM/SIGINT stop consuming, finish the batch in flight (its
// offsets are committed after its side effects, also while stopping), close clients, exit. If that takes longer than
// the timeout (SHUTDOWN_TIMEOUT_S for the processors and the reader) the process exits 1 and the uncommitted batch is
// delivered again after the restart (side effects are idempotent). Kubernetes' terminationGracePeriodSeconds must
// exceed the preStop delay plus this timeout (infra/k8s, docs/operations.md).
import type { Logger } from '../platform/logger.ts';

export function onShutdown(logger: Logger, stop: () => Promise<void>, timeoutMs = 30_000): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, timeoutMs }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs }, 'shutdown took longer than its timeout; exiting');
      process.exit(1);
    }, timeoutMs);
    force.unref();
    stop().then(
      () => {
        logger.info('shut down cleanly');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
