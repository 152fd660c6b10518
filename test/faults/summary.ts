// The run's verdict and JSON summary: every check once the pipeline has caught up, the names of those that failed,
// and the summary the suite prints and writes (run, counts, timings, producer, faults, unexpected exits, checks).
import os from 'node:os';
import path from 'node:path';
import type { Admin, Kafka } from 'kafkajs';
import type { Config } from '../../config/config.ts';
import { REPO_ROOT } from '../../infra/local/services.ts';
import type { ClickHouseClient } from '../../platform/clickhouse.ts';
import type { Redis } from '../../platform/redis.ts';
import {
  checkAlsHistories,
  checkCounters,
  checkLedger,
  checkMarkers,
  checkScalerOffsets,
  checkScores,
  classifyDeadLetters,
  readDeadLetters,
} from './checks.ts';
import type { FaultRecord } from './fault-injection.ts';
import { eventStream, type StreamOptions } from './generator.ts';
import type { Options } from './options.ts';
import type { ProcessorChild } from './processor-child.ts';
import type { ProduceStats } from './producer.ts';
import { clockStart, log, secs } from './timeline.ts';

/** What the checks read: the suite's clients, and what the producer sent. */
export interface CheckInputs {
  /** The suite's configuration: database, ledger table, dead-letter topic, ALS weights, score half-lives. */
  config: Config;
  /** A ClickHouse client the caller closes. */
  clickhouse: ClickHouseClient;
  /** The suite's Redis. */
  redis: Redis;
  /** The suite's Kafka, to read the dead-letter topic. */
  kafka: Kafka;
  /** A connected admin client of that Kafka. */
  admin: Admin;
  /** The events topic. */
  topic: string;
  /** What the producer sent. */
  stats: ProduceStats;
  /** The generator's options, to replay the accepted event ids. */
  stream: StreamOptions;
}

/** Runs every check; returns them keyed as in the summary, the names of the failed ones, and their time. */
export async function runChecks({ config, clickhouse, redis, kafka, admin, topic, stats, stream }: CheckInputs) {
  const tenants = [...stats.acceptedPerTenant.keys()].sort();
  const db = config.clickhouse.database;
  const ledgerTable = config.ledger.table;
  const checkStart = Date.now();
  const acceptedIds = function* (): Generator<string> {
    for (const g of eventStream(stream)) if (g.kind === 'valid') yield g.event.eventId;
  };
  const ledger = await checkLedger(clickhouse, db, ledgerTable, acceptedIds, stats.acceptedPerTenant);
  log(
    `ledger: ${ledger.rowsFinal} rows FINAL for ${ledger.accepted} accepted (${ledger.duplicateRowsRaw} re-delivered duplicates before FINAL), lost ${ledger.lost}`,
  );
  const counters = await checkCounters(clickhouse, redis, db, ledgerTable, tenants);
  const als = await checkAlsHistories(clickhouse, redis, db, ledgerTable, tenants, config.als.weights);
  const scores = await checkScores(
    clickhouse,
    redis,
    db,
    ledgerTable,
    tenants,
    { impression: 0, click: 1, engagement: 3, conversion: 5 },
    { popularity: config.features.halfLifeS * 1000, trending: config.features.trendingHalfLifeS * 1000 },
  );
  const markers = await checkMarkers(redis, stats.acceptedPerTenant, stats.weightedPerTenant);
  const scaler = await checkScalerOffsets(clickhouse, redis, db, ledgerTable, topic, tenants);
  const letters = await readDeadLetters(kafka, admin, config.topics.eventsDlq);
  const dlq = classifyDeadLetters(letters, stats.injected);
  const checkMs = Date.now() - checkStart;

  const checks = {
    ledger,
    redisCounters: counters,
    alsHistories: als,
    popularity: scores.popularity,
    trending: scores.trending,
    dedupeMarkers: markers,
    scalerOffsets: scaler,
    deadLetters: dlq,
  };
  const failed = [
    ...(ledger.ok ? [] : ['ledger']),
    ...Object.entries(counters).flatMap(([k, r]) => (r.ok ? [] : [`redisCounters.${k}`])),
    ...Object.entries(als).flatMap(([k, r]) => (r.ok ? [] : [`alsHistories.${k}`])),
    ...(scores.popularity.ok ? [] : ['popularity']),
    ...(scores.trending.ok ? [] : ['trending']),
    ...(markers.ok ? [] : ['dedupeMarkers']),
    ...(scaler.ok ? [] : ['scalerOffsets']),
    ...(dlq.ok ? [] : ['deadLetters']),
  ];
  return { checks, failed, checkMs };
}

/** The checks as the summary holds them. */
export type Checks = Awaited<ReturnType<typeof runChecks>>['checks'];

/** Everything the summary reports. */
export interface SummaryInputs {
  /** The checks, keyed as in the summary. */
  checks: Checks;
  /** Names of the failed checks. */
  failed: string[];
  /** Ms the checks took. */
  checkMs: number;
  /** This run's id (in the isolated key and topic names). */
  runId: string;
  /** The parsed command line. */
  opts: Options;
  /** The suite's configuration. */
  config: Config;
  /** Where the suite's services keep their data. */
  dataDir: string;
  /** Ms the suite's services took to start. */
  servicesUpMs: number;
  /** What the producer sent. */
  stats: ProduceStats;
  /** Ms from the first message to the last. */
  produceMs: number;
  /** Ms from the first message until the last processor caught up. */
  pipelineMs: number;
  /** When each processor caught up (ms since the epoch). */
  caughtUpAt: Record<string, number>;
  /** One record per fault injected. */
  faultRecords: FaultRecord[];
  /** The processor children, for their unexpected exits. */
  children: readonly ProcessorChild[];
}

/** The JSON summary of the run. */
export function faultSuiteSummary({
  checks,
  failed,
  checkMs,
  runId,
  opts,
  config,
  dataDir,
  servicesUpMs,
  stats,
  produceMs,
  pipelineMs,
  caughtUpAt,
  faultRecords,
  children,
}: SummaryInputs) {
  const { ledger, deadLetters: dlq } = checks;
  const processExits = children.flatMap((c) => c.unexpectedExits.map((e) => ({ processor: c.name, ...e })));
  return {
    ok: failed.length === 0,
    failed,
    run: {
      runId,
      command: `npm run test:faults${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
      events: opts.events,
      seed: opts.seed,
      tenants: opts.tenants,
      invalidShare: opts.invalidShare,
      faults: opts.faults,
      serviceSignal: opts.serviceSignal,
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
      },
      services: {
        kafka: config.kafka.brokers.join(','),
        registry: config.schemaRegistryUrl,
        redis: config.redisUrl,
        clickhouse: config.clickhouse.url,
        dataDir: path.relative(REPO_ROOT, dataDir),
        startS: secs(servicesUpMs),
      },
    },
    counts: {
      produced: stats.messages,
      accepted: stats.valid,
      rejected: stats.invalid,
      ledgerRowsFinal: ledger.rowsFinal,
      ledgerRowsRaw: ledger.rowsRaw,
      duplicateRowsBeforeFinal: ledger.duplicateRowsRaw,
      duplicateRowsFinal: ledger.duplicateRowsFinal,
      lost: ledger.lost,
      dlqRecords: dlq.records,
      dlqDuplicates: Object.values(dlq.byKind).reduce((s, r) => s + r.duplicates, 0),
      dlqMissing: dlq.missing,
      dlqUnexpected: dlq.unexpected,
    },
    timings: {
      produceS: secs(produceMs),
      produceEventsPerS: Math.round(stats.messages / (produceMs / 1000)),
      pipelineS: secs(pipelineMs),
      pipelineEventsPerS: Math.round(stats.messages / (pipelineMs / 1000)),
      caughtUpAfterS: Object.fromEntries(Object.entries(caughtUpAt).map(([p, t]) => [p, secs(t - stats.startedAt)])),
      checksS: secs(checkMs),
      totalS: secs(Date.now() - clockStart()),
    },
    producer: {
      requests: stats.requests,
      resends: stats.resends,
      errors: stats.errors,
      tailSentSlowly: stats.slowedMessages,
    },
    faults: faultRecords,
    processExits,
    checks,
  };
}
