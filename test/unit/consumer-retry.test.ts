// The consumer's kafkajs retry policy: an outage is retried by kafkajs with backoff, and nothing heartbeats while it
// waits, so each wait must stay well inside the session timeout (the runner's consumers use 30 s).
import { describe, expect, it } from 'vitest';
import { CONSUMER_RETRY } from '../../streams/consumer-runner.ts';

describe('consumer retry policy', () => {
  it('never waits long enough to lose the group, and retries for tens of seconds before a restart', () => {
    const sessionTimeoutMs = 30_000;
    // kafkajs waits min(randomised(previous) * 2, maxRetryTime): a few heartbeat chances per session timeout
    expect(CONSUMER_RETRY.maxRetryTime).toBeLessThanOrEqual(sessionTimeoutMs / 4);
    // the schedule (without randomisation): initial, doubled, capped
    let wait: number = CONSUMER_RETRY.initialRetryTime;
    let total = 0;
    for (let i = 0; i < CONSUMER_RETRY.retries; i++) {
      total += wait;
      wait = Math.min(wait * 2, CONSUMER_RETRY.maxRetryTime);
    }
    expect(total).toBeGreaterThan(20_000);
    expect(total).toBeLessThan(60_000);
  });
});
