// Throughput of the ledger processor (decode + validate + ClickHouse insert + commit) against a raw kafkajs consumer
// that only counts, on the same topic and the same real events, in one run. Prints JSON.
//   npm run bench:ledger -- [--log path] [--repeat n] [--out file]
import { randomBytes } from 'node:crypto';
import { Command } from 'commander';
import { loadConfig } from '../config/config.ts';
import { isolatedEnv } from '../test/support/isolated-env.ts';
import type { InteractionEvent } from '../core/events.ts';
import { ensureServices } from '../infra/local/services.ts';
import { deprovision, provision } from '../apps/provision.ts';
import { createClickHouse } from '../platform/clickhouse.ts';
import { createLogger } from '../platform/logger.ts';
import { createMetrics } from '../platform/metrics.ts';
import { LedgerWriter } from '../processors/ledger-writer.ts';
import { countLedgerRows } from '../state/ledger.ts';
import { decodeEvent } from '../schemas/event-codec.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { runConsumer } from '../streams/consumer-runner.ts';
import { EventProducer } from '../streams/event-producer.ts';
import { createKafka } from '../streams/kafka.ts';
import { consumerLag } from '../streams/offsets.ts';
import { readTaobaoLog } from '../datasets/taobao.ts';
import { machine, printReport } from '../test/support/bench-report.ts';
import { waitUntil } from '../test/support/wait.ts';

const opts = new Command('bench:ledger')
  .option('--log <path>', 'Taobao UserBehavior.csv', loadConfig().demo.logPath)
  .option('--repeat <n>', 'replay the log n times (distinct event ids)', (v) => Number(v), 2)
  .option('--out <file>', 'also write the JSON report to this file')
  .parse()
  .opts<{ log: string; repeat: number; out?: string }>();

const run = randomBytes(3).toString('hex');
const config = loadConfig({
  ...process.env,
  RANKSTREAM_LOG_LEVEL: 'warn',
  ...isolatedEnv('bench-ledger', run),
});
const logger = createLogger(config.logLevel, 'bench');
await ensureServices({ log: (l: string) => console.error(`infra: ${l}`) });
await provision(config, logger);
const kafka = createKafka(config, logger);
const admin = kafka.admin();
await admin.connect();
const registry = new SchemaRegistryClient(config.schemaRegistryUrl);

// 1. load the topic with real events
const events: InteractionEvent[] = [];
for await (const p of readTaobaoLog(opts.log, 'bench')) if (p.ok) events.push(p.event);
const producer = await EventProducer.connect(kafka, registry, config.topics.events);
const produceStart = performance.now();
let total = 0;
for (let r = 0; r < opts.repeat; r++) {
  for (let i = 0; i < events.length; i += 5000) {
    await producer.send(events.slice(i, i + 5000).map((e) => ({ ...e, eventId: `${r}:${e.eventId}` })));
  }
  total += events.length;
}
const produceS = (performance.now() - produceStart) / 1000;
await producer.disconnect();

async function timeUntilCaughtUp(groupId: string, start: number): Promise<number> {
  await waitUntil(async () => (await consumerLag(admin, groupId, config.topics.events)) === 0n, {
    timeoutMs: Infinity,
    intervalMs: 50,
  });
  return (performance.now() - start) / 1000;
}

// 2. raw kafkajs consumer: fetch and count only
const rawGroup = `bench-${run}-raw`;
const raw = kafka.consumer({ groupId: rawGroup });
await raw.connect();
await raw.subscribe({ topic: config.topics.events, fromBeginning: true });
let rawCount = 0;
const rawStart = performance.now();
await raw.run({ eachBatch: async ({ batch }) => void (rawCount += batch.messages.length) });
const rawS = await timeUntilCaughtUp(rawGroup, rawStart);
await raw.disconnect();

// 3. the ledger processor through the runner
const clickhouse = createClickHouse(config);
const ledgerGroup = `bench-${run}-ledger`;
const ledgerStart = performance.now();
const ledger = await runConsumer({
  kafka,
  groupId: ledgerGroup,
  topic: config.topics.events,
  dlqTopic: config.topics.eventsDlq,
  decode: (m) => decodeEvent(registry, m),
  processor: new LedgerWriter(clickhouse, config.clickhouse.database, config.ledger.table),
  logger,
  metrics: createMetrics(false),
  maxRetries: 3,
  retryBackoffMs: 200,
});
const ledgerS = await timeUntilCaughtUp(ledgerGroup, ledgerStart);
await ledger.stop();
const rows = await countLedgerRows(clickhouse, config.clickhouse.database, config.ledger.table);

// clean up what the run created
await clickhouse.close();
await admin.disconnect();
await deprovision(config, logger);

printReport(
  {
    benchmark: 'ledger-throughput',
    machine: machine(),
    data: { log: opts.log, repeat: opts.repeat, events: total, partitions: config.topics.partitions },
    produce: { seconds: +produceS.toFixed(2), eventsPerSec: Math.round(total / produceS) },
    rawKafkajsConsumer: { seconds: +rawS.toFixed(2), eventsPerSec: Math.round(total / rawS), counted: rawCount },
    ledgerProcessor: {
      seconds: +ledgerS.toFixed(2),
      eventsPerSec: Math.round(total / ledgerS),
      ledgerRows: rows,
      ledgerRowsMatch: rows === total,
    },
    ledgerVsRaw: +(rawS / ledgerS).toFixed(3),
  },
  opts.out,
);
