// Kafka client factory and topic provisioning. kafkajs logs are bridged into our structured logger.
import { Kafka, Partitioners, logLevel, type ITopicConfig, type LogEntry, type Producer } from 'kafkajs';
import type { Config } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(config: Config, logger: Logger, clientId = config.kafka.clientId): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId,
    brokers: config.kafka.brokers,
    logLevel: logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 200 },
    logCreator:
      () =>
      ({ level, log: entry }: LogEntry) => {
        const { message, ...rest } = entry;
        // Our idempotent producers keep a bounded retry budget on purpose (a send fails rather than hangs during an
        // outage); kafkajs warns about that on every connect, which is noise, not news. It also logs every broker error
        // response at ERROR before retrying it (a coordinator still loading, a rebalance): those are info; an error
        // that survives the retries reaches our code and is logged there.
        const lvl = message.startsWith('Limiting retries for the idempotent producer')
          ? 'debug'
          : message.startsWith('Response ')
            ? 'info'
            : (LEVELS[level] ?? 'info');
        log[lvl]({ ...rest }, message);
      },
  });
}

/** The producer every component uses: idempotent, one request in flight (ordering), murmur2 partitioner as in Java. */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    allowAutoTopicCreation: false,
    idempotent: true,
    maxInFlightRequests: 1,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
}

/** Creates the given topics when missing (KRaft brokers do not auto-create them reliably). */
export async function ensureTopics(kafka: Kafka, topics: string[], partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing: ITopicConfig[] = topics
      .filter((t) => !existing.has(t))
      .map((topic) => ({ topic, numPartitions: partitions, replicationFactor: 1 }));
    if (missing.length > 0) await admin.createTopics({ topics: missing, waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export function allTopics(config: Config): string[] {
  const t = config.topics;
  return [t.events, t.eventsDlq, t.feedRequests, t.feedRequestsDlq, t.feeds, t.items, t.itemsDlq];
}
