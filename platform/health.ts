// Liveness vs readiness. Liveness (/livez) only says the event loop answers: a process that is alive but cannot reach
// a dependency must not be restarted for it (a restart does not bring Redis back, and restarting every pod at once
// during an outage makes it worse). Readiness (/readyz) says whether the process should get work now: every check
// passes, each within a time bound, and the process is not shutting down. A failing check names itself and its reason.
import type { Producer } from 'kafkajs';
import type { ConsumerTracker } from './consumer-tracker.ts';
import type { Redis } from './redis.ts';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when ready; throws (or rejects) with the reason otherwise. */
  check(): Promise<void> | void;
}

export interface CheckResult {
  ok: boolean;
  error?: string;
}

export interface ReadinessReport {
  status: 'ready' | 'not_ready';
  /** Names of the checks that failed ('shutdown' while draining). */
  notReady: string[];
  checks: Record<string, CheckResult>;
}

export const READINESS_CHECK_TIMEOUT_MS = 2000;

/** Rejects with `${what} did not answer within N ms` when the promise takes longer; the timer never holds the process. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Runs every check concurrently, each bounded by timeoutMs. */
export async function runChecks(checks: readonly ReadinessCheck[], timeoutMs: number): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c): Promise<[string, CheckResult]> => {
      try {
        await withTimeout(
          Promise.resolve().then(() => c.check()),
          timeoutMs,
          c.name,
        );
        return [c.name, { ok: true }];
      } catch (err) {
        return [c.name, { ok: false, error: err instanceof Error ? err.message : String(err) }];
      }
    }),
  );
  const notReady = results.filter(([, r]) => !r.ok).map(([name]) => name);
  return { status: notReady.length === 0 ? 'ready' : 'not_ready', notReady, checks: Object.fromEntries(results) };
}

/** A process's readiness: its checks, plus 'shutdown', which fails from the moment it starts draining. */
export class Readiness {
  private draining = false;

  constructor(
    private readonly checks: readonly ReadinessCheck[],
    private readonly timeoutMs = READINESS_CHECK_TIMEOUT_MS,
  ) {}

  /** From now on the process reports not ready (SIGTERM: stop taking work while the batch in flight finishes). */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  report(): Promise<ReadinessReport> {
    const shutdown: ReadinessCheck = {
      name: 'shutdown',
      check: () => {
        if (this.draining) throw new Error('shutting down');
      },
    };
    return runChecks([shutdown, ...this.checks], this.timeoutMs);
  }
}

/**
 * Redis answers PING. A client that is not connected fails at once rather than queueing the PING until it reconnects
 * (our clients queue commands while reconnecting, which would make the probe hang until its timeout).
 */
export function redisCheck(redis: Redis, name = 'redis'): ReadinessCheck {
  return {
    name,
    async check() {
      if (redis.status !== 'ready') throw new Error(`connection ${redis.status}`);
      await redis.ping();
    },
  };
}

/** Every consumer this process runs has joined its group (and none crashed or stopped since). */
export function consumersCheck(tracker: ConsumerTracker, name = 'consumers'): ReadinessCheck {
  return {
    name,
    check() {
      if (tracker.list().length === 0) throw new Error('no consumer started yet');
      const waiting = tracker.notJoined();
      if (waiting.length > 0) throw new Error(waiting.join('; '));
    },
  };
}

/**
 * Follows a kafkajs producer's connect/disconnect events (attach before connect()). kafkajs reconnects to brokers on
 * its own when sending; 'connected' means connect() succeeded and disconnect() has not been called.
 */
export function trackProducer(producer: Producer, name = 'kafka-producer'): ReadinessCheck {
  let connected = false;
  producer.on(producer.events.CONNECT, () => {
    connected = true;
  });
  producer.on(producer.events.DISCONNECT, () => {
    connected = false;
  });
  return {
    name,
    check() {
      if (!connected) throw new Error('producer not connected');
    },
  };
}
