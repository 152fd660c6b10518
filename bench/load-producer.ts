// bench:load's event producer, a child process of its own so its CPU and memory are measured apart and the feed clients'
// latencies in the bench process are not skewed by encoding. It offers events at the rate the parent sets over IPC
// (open loop: every 50 ms it adds rate × elapsed events to its backlog and sends the backlog in one batch once the
// previous one is acknowledged; a backlog over one second of events is dropped and counted, so a producer that cannot
// keep up shows as achieved < offered instead of an ever-later schedule). Configuration: the app's env vars (topics,
// brokers, registry) plus LOAD_TENANT, LOAD_USERS, LOAD_ITEMS, LOAD_RUN.
//   parent → child: { type: 'rate', eventsPerS } | { type: 'snapshot', id } | { type: 'stop' }
//   child → parent: { type: 'ready' } | { type: 'snapshot', id, counters } | { type: 'error', message }
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/config.ts';
import type { InteractionEvent } from '../core/events.ts';
import { seededRandom } from '../core/math/seeded-random.ts';
import { createLogger } from '../platform/logger.ts';
import { SchemaRegistryClient } from '../schemas/registry.ts';
import { EventProducer } from '../streams/event-producer.ts';
import { createKafka } from '../streams/kafka.ts';
import { waitUntil } from '../test/support/wait.ts';

export interface ProducerCounters {
  /** Events the schedule offered (rate × time). */
  offered: number;
  /** Events acknowledged by Kafka (acks=all). */
  acked: number;
  /** Events dropped because the backlog exceeded one second of the offered rate. */
  dropped: number;
  /** Events in failed sends. */
  failed: number;
  /** Sends (batches) acknowledged. */
  sends: number;
}

export type ProducerCommand =
  { type: 'rate'; eventsPerS: number } | { type: 'snapshot'; id: number } | { type: 'stop' };
export type ProducerMessage =
  { type: 'ready' } | { type: 'snapshot'; id: number; counters: ProducerCounters } | { type: 'error'; message: string };

/** The synthetic interaction stream: a feed loop's mix of impressions, clicks, engagements and conversions. */
export function eventStream(
  tenant: string,
  users: number,
  items: number,
  run: string,
  seed = 11,
): (now: number) => InteractionEvent {
  const random = seededRandom(seed);
  let seq = 0;
  return (now) => {
    const n = seq++;
    // popularity skewed toward low ids for both users and items (a few heavy users, a head of popular items)
    const userId = `u${Math.floor(random() ** 2 * users)}`;
    const itemId = `i${Math.floor(random() ** 3 * items)}`;
    const base = {
      eventId: `${run}-${n}`,
      tenant,
      userId,
      itemId,
      timestamp: now,
      context: { surface: n % 2 === 0 ? 'home' : 'pdp' },
    };
    const rec = `${run}-r${Math.floor(n / 10)}`;
    const r = random();
    if (r < 0.5) return { ...base, type: 'impression', recommendationId: rec, position: n % 10, feedId: rec };
    if (r < 0.85)
      return {
        ...base,
        type: 'click',
        recommendationId: r < 0.6 ? `${run}-r${Math.max(0, Math.floor(n / 10) - 1)}` : null,
      };
    if (r < 0.95) return { ...base, type: 'engagement', action: r < 0.9 ? 'cart' : 'fav', recommendationId: null };
    return { ...base, type: 'conversion', value: Math.round(random() * 10_000) / 100, recommendationId: null };
  };
}

async function main(): Promise<void> {
  const send = (m: ProducerMessage) => process.send?.(m);
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'load-producer');
  const env = process.env;
  const next = eventStream(
    env.LOAD_TENANT ?? 'bench-load',
    Number(env.LOAD_USERS ?? 20_000),
    Number(env.LOAD_ITEMS ?? 5_000),
    env.LOAD_RUN ?? 'load',
  );
  const producer = await EventProducer.connect(
    createKafka(config, logger, 'bench-load-producer'),
    new SchemaRegistryClient(config.schemaRegistryUrl),
    config.topics.events,
  );
  const counters: ProducerCounters = { offered: 0, acked: 0, dropped: 0, failed: 0, sends: 0 };
  let rate = 0;
  let backlog = 0;
  let carry = 0;
  let sending = false;
  let stopping = false;
  let last = performance.now();
  const MAX_BATCH = 20_000;

  async function sendBacklog(): Promise<void> {
    if (sending || backlog === 0) return;
    sending = true;
    try {
      while (backlog > 0 && !stopping) {
        const n = Math.min(backlog, MAX_BATCH);
        backlog -= n;
        const now = Date.now();
        const events = Array.from({ length: n }, () => next(now));
        try {
          await producer.send(events);
          counters.acked += n;
          counters.sends++;
        } catch (err) {
          counters.failed += n;
          logger.warn({ err }, 'send failed');
        }
      }
    } finally {
      sending = false;
    }
  }

  const tick = setInterval(() => {
    const now = performance.now();
    const due = rate * ((now - last) / 1000) + carry;
    last = now;
    const n = Math.floor(due);
    carry = due - n;
    counters.offered += n;
    backlog += n;
    const cap = Math.max(rate, 1);
    if (backlog > cap) {
      counters.dropped += backlog - cap;
      backlog = cap;
    }
    void sendBacklog();
  }, 50);

  process.on('message', (m: ProducerCommand) => {
    if (m.type === 'rate') {
      rate = m.eventsPerS;
      if (rate === 0) backlog = 0;
    } else if (m.type === 'snapshot') send({ type: 'snapshot', id: m.id, counters: { ...counters } });
    else if (m.type === 'stop') {
      stopping = true;
      clearInterval(tick);
      void (async () => {
        await waitUntil(() => !sending, { timeoutMs: Infinity, intervalMs: 20 });
        await producer.disconnect();
        process.exit(0);
      })();
    }
  });
  process.on('disconnect', () => process.exit(0)); // the parent went away
  send({ type: 'ready' });
}

// only as the entry point of a forked child (tests import eventStream; vitest's own workers have an IPC channel too)
if (process.send && process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.send?.({
      type: 'error',
      message: err instanceof Error ? err.message : String(err),
    } satisfies ProducerMessage);
    process.exitCode = 1;
    setTimeout(() => process.exit(1), 100);
  });
}
