// Which Kafka consumers this process runs and whether each has joined its group: the processors' readiness, the
// groups the lag monitor measures, and the rankstream_consumer_group_joined gauge. The consumer runner feeds it from
// kafkajs instrumentation events (group join, crash, stop); this module knows nothing of kafkajs.
import type { Gauge } from 'prom-client';

/**
 * starting: connected, not yet in its group. joined: has partitions (or is an idle member) and consumes; a rebalance
 * keeps it joined. crashed: kafkajs restarts it and it joins again. stopped: shut down (or gave up).
 */
export type ConsumerState = 'starting' | 'joined' | 'crashed' | 'stopped';

export interface TrackedConsumer {
  readonly groupId: string;
  readonly topic: string;
  state: ConsumerState;
  /** Why it is not joined (the crash's message), when known. */
  reason: string | null;
  /** Partitions of the topic assigned at the last join. */
  partitions: number[];
  since: number;
}

export interface ConsumerHandle {
  joined(partitions: number[]): void;
  crashed(reason: string): void;
  stopped(): void;
}

export class ConsumerTracker {
  private readonly consumers: TrackedConsumer[] = [];

  constructor(
    private readonly joinedGauge: Gauge<'group' | 'topic'> | null = null,
    private readonly now: () => number = Date.now,
  ) {}

  /** Registers a consumer (state 'starting') and returns the handle its event listeners report through. */
  track(groupId: string, topic: string): ConsumerHandle {
    const c: TrackedConsumer = { groupId, topic, state: 'starting', reason: null, partitions: [], since: this.now() };
    this.consumers.push(c);
    const set = (state: ConsumerState, reason: string | null) => {
      c.state = state;
      c.reason = reason;
      c.since = this.now();
      this.joinedGauge?.set({ group: groupId, topic }, state === 'joined' ? 1 : 0);
    };
    set('starting', null);
    return {
      joined: (partitions) => {
        c.partitions = [...partitions].sort((a, b) => a - b);
        set('joined', null);
      },
      crashed: (reason) => set('crashed', reason),
      stopped: () => set('stopped', null),
    };
  }

  list(): readonly TrackedConsumer[] {
    return this.consumers;
  }

  /** The distinct (group, topic) pairs of consumers still running: what the lag monitor measures. */
  groups(): { groupId: string; topic: string }[] {
    const seen = new Map<string, { groupId: string; topic: string }>();
    for (const c of this.consumers)
      if (c.state !== 'stopped') seen.set(`${c.groupId}\u0000${c.topic}`, { groupId: c.groupId, topic: c.topic });
    return [...seen.values()];
  }

  /** One line per consumer that is not joined ("group on topic: crashed (reason)"); empty when all are. */
  notJoined(): string[] {
    return this.consumers
      .filter((c) => c.state !== 'joined')
      .map((c) => `${c.groupId} on ${c.topic}: ${c.state}${c.reason ? ` (${c.reason})` : ''}`);
  }
}
