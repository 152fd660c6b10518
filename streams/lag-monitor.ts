// Consumer lag as a Prometheus gauge: every interval, for each (group, topic) this process consumes, the committed
// offsets (admin.fetchOffsets) against the high watermarks (admin.fetchTopicOffsets). Measured from the broker, not
// from fetched batches, so a consumer that is stuck (or crashed, or lost its partitions) shows a growing lag instead of
// its last value. Each replica of a processor reports its whole group, so dashboards take max by (group, topic,
// partition) across replicas.
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../platform/logger.ts';
import type { Metrics } from '../platform/metrics.ts';
import { fetchPartitionLags } from './offsets.ts';

export class LagMonitor {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private failing = false;
  /** Completed refreshes (tests wait on it). */
  refreshes = 0;

  constructor(
    private readonly admin: Admin,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {}

  /** Measures every tracked group once; a group that fails keeps its last values (and is logged once per failure run). */
  refresh(): Promise<void> {
    this.inFlight ??= this.measure().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async measure(): Promise<void> {
    const errors: string[] = [];
    for (const { groupId, topic } of this.metrics.consumers.groups()) {
      try {
        for (const p of await fetchPartitionLags(this.admin, groupId, topic)) {
          this.metrics.consumerLag.set({ group: groupId, topic, partition: String(p.partition) }, Number(p.lag));
        }
      } catch (err) {
        errors.push(`${groupId}/${topic}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (errors.length > 0 && !this.failing)
      this.logger.warn({ errors }, 'consumer lag could not be measured; keeping the last values');
    if (errors.length === 0 && this.failing) this.logger.info('consumer lag measured again');
    this.failing = errors.length > 0;
    this.refreshes++;
  }

  start(intervalMs: number): void {
    if (this.timer) return;
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.inFlight;
    await this.admin.disconnect();
  }
}

/** Connects an admin client and starts measuring every intervalMs. */
export async function startLagMonitor(
  kafka: Kafka,
  metrics: Metrics,
  logger: Logger,
  intervalMs: number,
): Promise<LagMonitor> {
  const admin = kafka.admin();
  await admin.connect();
  const monitor = new LagMonitor(admin, metrics, logger.child({ component: 'lag-monitor' }));
  monitor.start(intervalMs);
  return monitor;
}
