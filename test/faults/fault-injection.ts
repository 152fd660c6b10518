// The fault schedule's steps: one fault injected (a processor killed mid-batch, or a service stopped and started
// again) and the recovery measured: until every affected consumer group commits past where it stood at the fault.
import type { Admin } from 'kafkajs';
import { down, up, type InfraOptions, type ServiceName } from '../../infra/local/services.ts';
import type { ClickHouseClient } from '../../platform/clickhouse.ts';
import type { Redis } from '../../platform/redis.ts';
import { scalerAccKey } from '../../state/keys.ts';
import { fetchPartitionLags, type PartitionLag } from '../../streams/offsets.ts';
import { PROCESSORS, type Fault, type SuiteProcessor } from './options.ts';
import type { ProcessorChild } from './processor-child.ts';
import type { ProduceStats } from './producer.ts';
import { clockStart, log, secs, sleep, waitFor } from './timeline.ts';

export interface FaultRecord {
  fault: Fault;
  /** Seconds since the suite started. */
  at: number;
  duringProduction: boolean;
  /** Messages produced when the fault was injected. */
  producedAtFault: number;
  /** kill-*: a batch was in flight (rankstream_batches_in_flight > 0) right before the SIGKILL. */
  inFlightAtKill?: boolean;
  /** kill-*: ms spent waiting for the moment to kill. */
  waitedForBatchMs?: number;
  /**
   * kill-ledger-writer, kill-scaler: records whose side effects were durable but whose offsets were not committed
   * when the process was killed (ledger rows / scaler folds beyond the committed offsets), so delivered again after
   * the restart: the re-delivery the idempotence must absorb. The suite freezes the process (SIGSTOP) at random
   * points inside batches until it catches one there, then kills it (SIGKILL).
   */
  appliedBeyondCommitAtKill?: number;
  signal: string;
  /** Lag (uncommitted records) of the affected groups at the fault. */
  lagAtFault: Record<string, string>;
  /** restart-*: ms the service was left down before its restart began. */
  downForMs?: number;
  /** restart-*: ms from the signal to the service answering its readiness probe again. */
  serviceReadyMs?: number;
  /**
   * kill-ledger-writer: what became of the rows applied beyond the commit at the kill: events among them inserted
   * again by the restarted writer (ingested after the restart: re-delivered), and their rows with FINAL (one each).
   */
  ledgerRedelivery?: {
    appliedAtKill: number;
    reinsertedAfterRestart: number;
    rowsFinal: number;
    distinctEvents: number;
  };
  /** kill-*: ms from the SIGKILL to the new process's /readyz answering 200. */
  processReadyMs?: number;
  /** ms from the fault until every affected group committed past what it had committed at the fault, on every partition. */
  resumedMs: number;
  /** restart-*: the same per processor. */
  resumedMsByProcessor?: Record<string, number>;
}

export interface FaultContext {
  children: ProcessorChild[];
  admin: Admin;
  groups: Record<SuiteProcessor, string>;
  topic: string;
  stats: ProduceStats;
  infra: InfraOptions;
  signal: 'SIGKILL' | 'SIGTERM';
  outageMs: number;
  clickhouse: ClickHouseClient;
  redis: Redis;
  /** db.table of the ledger. */
  ledger: string;
}

export async function inject(fault: Fault, ctx: FaultContext): Promise<FaultRecord> {
  const affected: SuiteProcessor[] = fault.startsWith('kill-')
    ? [fault.slice('kill-'.length) as SuiteProcessor]
    : [...PROCESSORS];
  const lagAtFault: Record<string, string> = {};
  const committedAtFault = new Map<SuiteProcessor, PartitionLag[]>();
  /** Where every affected group stands at the fault (taken while a killed process is frozen, so it cannot commit). */
  const snapshot = async () => {
    for (const p of affected) {
      const lags = await fetchPartitionLags(ctx.admin, ctx.groups[p], ctx.topic);
      committedAtFault.set(p, lags);
      lagAtFault[p] = lags.reduce((sum, l) => sum + l.lag, 0n).toString();
    }
  };
  const base = {
    fault,
    duringProduction: ctx.stats.finishedAt === null,
    producedAtFault: ctx.stats.messages,
    lagAtFault,
  };
  let record: FaultRecord;
  let faultAt: number;
  /** kill-ledger-writer: the ledger rows applied beyond the commit at the kill, as a WHERE condition. */
  let appliedWhere: string | undefined;
  if (fault.startsWith('kill-')) {
    const name = affected[0]!;
    const child = ctx.children.find((c) => c.name === name)!;
    const waitStart = Date.now();
    const probe = appliedBeyondCommitProbe(name, ctx);
    let inFlight = false;
    let applied: Applied | null = null;
    // Freeze the process (SIGSTOP) at a random point inside a batch and kill it there. Where the side effects can be
    // seen by offset (ledger rows, scaler folds), aim at the riskiest point, applied but not committed: look while it
    // is frozen and let it go on (SIGCONT) to try again when the batch is not there yet, for up to a minute.
    while (Date.now() - waitStart < 90_000) {
      if (!(await child.inFlight())) {
        await sleep(5);
        continue;
      }
      await sleep(Math.floor(Math.random() * 40));
      child.pause(true);
      inFlight = true;
      if (probe === null) break;
      // requests the process wrote before it froze (a commit, an insert) still reach the servers: let them land
      await sleep(300);
      applied = await probe().catch((): Applied => ({ applied: 0 }));
      if (applied.applied > 0 || Date.now() - waitStart > 60_000) break;
      child.pause(false);
    }
    if (!inFlight) child.pause(true);
    await snapshot();
    appliedWhere = applied?.where;
    log(
      `${fault}: SIGKILL pid ${child.pid}${inFlight ? ' in the middle of a batch' : ' (no batch in flight seen)'}${applied !== null ? `, ${applied.applied} records applied beyond the committed offsets` : ''}`,
    );
    faultAt = Date.now();
    await child.stop('SIGKILL');
    child.start();
    await child.ready();
    record = {
      ...base,
      at: secs(faultAt - clockStart()),
      inFlightAtKill: inFlight,
      waitedForBatchMs: faultAt - waitStart,
      ...(applied !== null ? { appliedBeyondCommitAtKill: applied.applied } : {}),
      signal: 'SIGKILL',
      processReadyMs: Date.now() - faultAt,
      resumedMs: 0,
    };
  } else {
    const service = fault.slice('restart-'.length) as ServiceName;
    await snapshot();
    log(`${fault}: ${ctx.signal} ${service}, then start it again`);
    faultAt = Date.now();
    await down([service], (l) => log(`infra: ${l}`), { ...ctx.infra, signal: ctx.signal });
    const downForMs = Date.now() - faultAt + ctx.outageMs;
    await sleep(ctx.outageMs);
    await up({ ...ctx.infra, only: [service], log: (l) => log(`infra: ${l}`) });
    record = {
      ...base,
      at: secs(faultAt - clockStart()),
      signal: ctx.signal,
      downForMs,
      serviceReadyMs: Date.now() - faultAt,
      resumedMs: 0,
    };
  }
  // recovered: on every partition, every affected group has committed beyond its position at the fault (or has
  // nothing left to consume there)
  const resumedAt = new Map<SuiteProcessor, number>();
  await waitFor(
    `${affected.join(', ')} to commit again after ${fault}`,
    async () => {
      for (const p of affected) {
        if (resumedAt.has(p)) continue;
        const before = new Map(committedAtFault.get(p)!.map((l) => [l.partition, l.committed ?? -1n]));
        const lags = await fetchPartitionLags(ctx.admin, ctx.groups[p], ctx.topic);
        if (lags.every((now) => now.lag === 0n || (now.committed ?? -1n) > (before.get(now.partition) ?? -1n)))
          resumedAt.set(p, Date.now());
      }
      return resumedAt.size === affected.length;
    },
    10 * 60_000,
    200,
  );
  record.resumedMs = Date.now() - faultAt;
  if (affected.length > 1)
    record.resumedMsByProcessor = Object.fromEntries([...resumedAt].map(([p, t]) => [p, t - faultAt]));
  if (fault === 'kill-ledger-writer' && appliedWhere !== undefined) {
    // ingested_at of a row is its insert's second; after a merge the last insert's row is the one kept
    const restartS = Math.floor(faultAt / 1000) + 1;
    const rs = await ctx.clickhouse.query({
      query: `SELECT uniqExactIf(event_id, ingested_at >= ${restartS}) AS again, count() AS rows, uniqExact(event_id) AS ids FROM ${ctx.ledger} FINAL WHERE ${appliedWhere}`,
      format: 'JSONEachRow',
    });
    const r = (await rs.json<{ again: string; rows: string; ids: string }>())[0];
    record.ledgerRedelivery = {
      appliedAtKill: record.appliedBeyondCommitAtKill ?? 0,
      reinsertedAfterRestart: Number(r?.again ?? 0),
      rowsFinal: Number(r?.rows ?? 0),
      distinctEvents: Number(r?.ids ?? 0),
    };
  }
  return record;
}

/** Committed offset per partition of a group (partitions without a commit are absent). */
async function committedByPartition(admin: Admin, group: string, topic: string): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return new Map(
    (offsets[0]?.partitions ?? []).filter((p) => BigInt(p.offset) >= 0n).map((p) => [p.partition, BigInt(p.offset)]),
  );
}

/**
 * For processors whose side effects record their Kafka offsets: how many records are applied beyond the group's
 * committed offsets right now (read while the process is frozen). Null for the others.
 */
interface Applied {
  applied: number;
  /** Ledger: the applied rows as a WHERE condition. */
  where?: string;
}

function appliedBeyondCommitProbe(name: SuiteProcessor, ctx: FaultContext): (() => Promise<Applied>) | null {
  if (name === 'ledger-writer') {
    return async () => {
      const committed = await committedByPartition(ctx.admin, ctx.groups[name], ctx.topic);
      if (committed.size === 0) return { applied: 0 };
      const beyond = [...committed].map(([p, o]) => `(kafka_partition = ${p} AND kafka_offset >= ${o})`).join(' OR ');
      const rs = await ctx.clickhouse.query({
        query: `SELECT kafka_partition AS p, toString(max(kafka_offset)) AS last, count() AS n FROM ${ctx.ledger} WHERE ${beyond} GROUP BY p`,
        format: 'JSONEachRow',
      });
      const rows = await rs.json<{ p: number; last: string; n: string | number }>();
      // the applied rows exactly: from the commit to the last one written, per partition (later ones come after the kill)
      const where = rows
        .map(
          (r) =>
            `(kafka_partition = ${r.p} AND kafka_offset BETWEEN ${committed.get(Number(r.p)) ?? 0n} AND ${r.last})`,
        )
        .join(' OR ');
      return { applied: rows.reduce((sum, r) => sum + Number(r.n), 0), ...(rows.length > 0 ? { where } : {}) };
    };
  }
  if (name === 'scaler') {
    return async () => {
      const committed = await committedByPartition(ctx.admin, ctx.groups[name], ctx.topic);
      // per partition: the offsets past the commit that some tenant's accumulator has already folded in
      const beyond = new Map<number, bigint>();
      for (const tenant of ctx.stats.acceptedPerTenant.keys()) {
        for (const [field, raw] of Object.entries(await ctx.redis.hgetall(scalerAccKey(tenant)))) {
          const partition = Number(field.slice(field.lastIndexOf(':') + 1));
          const folded = BigInt((JSON.parse(raw) as { offset: string }).offset);
          const span = folded - (committed.get(partition) ?? 0n) + 1n;
          if (span > (beyond.get(partition) ?? 0n)) beyond.set(partition, span);
        }
      }
      return { applied: Number([...beyond.values()].reduce((a, b) => a + b, 0n)) };
    };
  }
  return null;
}
