// A/B experiments on the real stack: variants chosen by hashing change what users are served (here: exploration slots
// with propensities), every feed reports its assignment, stopping an experiment reaches the reader within seconds, and
// the report reads exposure and outcomes from the ClickHouse ledger and finds a planted CTR lift significant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { experimentReport } from '../../core/experiments/report.ts';
import { assignVariant, experimentSchema, type Experiment } from '../../core/experiments/assignment.ts';
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';
import { readUserOutcomes } from '../../state/ledger.ts';
import { saveExperiment } from '../../state/experiments.ts';
import { isolatedConfig, startStack, type Stack } from '../support/harness.ts';
import { eventually } from '../support/wait.ts';

const config = isolatedConfig('experiments');
const tenant = `ex-${config.suffix}`.replace(/_/g, '-');
let stack: Stack;
let seq = 0;
const t0 = Date.UTC(2026, 6, 1);
const event = (
  type: 'click' | 'impression' | 'conversion',
  user: string,
  item: string,
  recommendationId: string | null = null,
): InteractionEvent => {
  const base = {
    eventId: `${tenant}-${seq++}`,
    tenant,
    userId: user,
    itemId: item,
    timestamp: t0 + seq * 100,
    context: {},
  };
  if (type === 'impression')
    return { ...base, type, recommendationId: recommendationId ?? 'r', position: 0, feedId: 'f' };
  if (type === 'conversion') return { ...base, type, value: 25, recommendationId };
  return { ...base, type, recommendationId };
};
const experiment: Experiment = experimentSchema.parse({
  id: 'explore-test',
  salt: 'explore-test-1',
  variants: [
    { name: 'control', weight: 1 },
    {
      name: 'explore',
      weight: 1,
      overrides: { rerank: { exploration: { kind: 'epsilon-greedy', epsilon: 1, slots: 2 } } },
    },
  ],
});

async function feed(
  user: string,
): Promise<{ experiments: Record<string, string>; items: { itemId: string; propensity: number }[] }> {
  const res = await fetch(`${stack.reader.url}/v1/feeds/${user}?tenant=${tenant}&k=5`);
  expect(res.status).toBe(200);
  return (await res.json()) as { experiments: Record<string, string>; items: { itemId: string; propensity: number }[] };
}

beforeAll(async () => {
  stack = await startStack(config);
  const events: InteractionEvent[] = [];
  for (let u = 0; u < 20; u++) for (let i = 0; i < 4; i++) events.push(event('click', `u${u}`, `i${(u + i * 5) % 40}`));
  await stack.producer.send(events);
  await stack.caughtUp();
  await saveExperiment(stack.redis, tenant, experiment);
});

afterAll(async () => {
  await stack?.stop();
});

describe('A/B experiments', () => {
  it('serves each user the variant their hash assigns, reports it with the feed, and explores only in the explore arm', async () => {
    const seen = new Set<string>();
    for (let u = 0; u < 20; u++) {
      const user = `u${u}`;
      const f = await feed(user);
      const variant = assignVariant(experiment, user).name;
      seen.add(variant);
      expect(f.experiments).toEqual({ 'explore-test': variant });
      expect(f.items).toHaveLength(5);
      const propensities = f.items.map((i) => i.propensity);
      if (variant === 'control') expect(propensities).toEqual([1, 1, 1, 1, 1]);
      else {
        expect(propensities.slice(0, 3)).toEqual([1, 1, 1]);
        expect(propensities.slice(3).every((p) => p > 0 && p < 1)).toBe(true);
      }
      expect((await feed(user)).experiments).toEqual(f.experiments); // stable
    }
    expect(seen).toEqual(new Set(['control', 'explore'])); // both arms are exercised
  });

  it('stops an experiment on every reader within seconds', async () => {
    await saveExperiment(stack.redis, tenant, { ...experiment, active: false });
    await eventually(
      'the reader drops the experiment',
      async () => (await feed('u1')).experiments,
      (e) => Object.keys(e).length === 0,
      15_000,
    );
    await saveExperiment(stack.redis, tenant, experiment);
  });

  it('reports per-variant CTR, conversion and revenue from the ledger, and finds a planted lift significant', async () => {
    const random = seededRandom(17);
    const users = Array.from({ length: 1200 }, (_, i) => `r${i}`);
    const events: InteractionEvent[] = [];
    for (const user of users) {
      const p = assignVariant(experiment, user).name === 'explore' ? 0.3 : 0.15;
      for (let j = 0; j < 4; j++) {
        const rec = `${user}-rec-${j}`;
        events.push(event('impression', user, `i${j}`, rec));
        if (random() < p) {
          events.push(event('click', user, `i${j}`, rec));
          if (random() < 0.3) events.push(event('conversion', user, `i${j}`, rec));
        }
      }
      // an organic click (no recommendation) is not attributed to the experiment
      events.push(event('click', user, 'organic'));
    }
    await stack.producer.send(events);
    await stack.caughtUp();
    const outcomes = await readUserOutcomes(stack.clickhouse, config.clickhouse.database, config.ledger.table, {
      tenant,
      sinceMs: t0,
    });
    const report = experimentReport(
      experiment,
      outcomes.filter((o) => o.userId.startsWith('r')),
    );
    const [control, explore] = report;
    expect(control!.users + explore!.users).toBe(1200);
    expect(control!.impressions + explore!.impressions).toBe(4800);
    const clicks = events.filter((e) => e.type === 'click' && e.recommendationId !== null).length;
    expect(control!.clicks + explore!.clicks).toBe(clicks);
    expect(explore!.vsControl!.ctr.significant).toBe(true);
    expect(explore!.vsControl!.ctr.relativeLift).toBeGreaterThan(0.5);
    expect(explore!.revenuePerUser.value).toBeGreaterThan(control!.revenuePerUser.value);
  });
});
