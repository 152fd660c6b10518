// The learned ranker end to end: feeds log the features of what they show; impressions and clicks come back through
// the events topic with the recommendation id; the trainer joins them within the attribution window (event time),
// learns online and publishes versions; readers pick the version up and order candidates by it, and explain=true shows
// each feature's contribution.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InteractionEvent } from '../../core/events.ts';
import { seededRandom } from '../../core/seeded-random.ts';
import { rankerCurrentKey } from '../../processors/ranker-store.ts';
import { eventually, isolatedConfig, startStack, type Stack } from './harness.ts';

const config = isolatedConfig('ranker', { RANKER_ATTRIBUTION_WINDOW_S: '60', RANKER_PUBLISH_INTERVAL_S: '1', RANKER_ALPHA: '0.5', RANKER_PRIOR_CTR: '0.2' });
const tenant = `rk-${config.suffix}`.replace(/_/g, '-');
const t0 = Date.UTC(2026, 7, 1);
let stack: Stack;
let seq = 0;
let clock = t0;
const ITEMS = Array.from({ length: 40 }, (_, i) => `i${i}`);
// the planted truth: users click the even items they are shown, and never the odd ones
const good = (item: string) => Number(item.slice(1)) % 2 === 0;

interface Feed {
  recommendationId: string;
  rankerVersion: string | null;
  items: { itemId: string; source: string; explanation?: { probability: number; contributions: { feature: string; contribution: number }[] } }[];
}

async function feed(user: string, explain = false): Promise<Feed> {
  const res = await fetch(`${stack.reader.url}/v1/feeds/${user}?tenant=${tenant}&k=8${explain ? '&explain=true' : ''}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Feed;
}

const ev = (e: Omit<InteractionEvent, 'eventId' | 'tenant' | 'timestamp' | 'context'> & Partial<InteractionEvent>): InteractionEvent => ({ eventId: `${tenant}-${seq++}`, tenant, timestamp: (clock += 1000), context: {}, ...e }) as InteractionEvent;

beforeAll(async () => {
  stack = await startStack(config);
  const random = seededRandom(3);
  // some history so every user is known and every item is on the popular rails
  await stack.producer.send(Array.from({ length: 400 }, (_, i) => ev({ type: 'click', userId: `h${i % 20}`, itemId: ITEMS[Math.floor(random() * ITEMS.length)]!, recommendationId: null })));
  await stack.caughtUp();
});

afterAll(async () => {
  await stack?.stop();
});

describe('learned ranker', () => {
  it('learns from joined impressions and clicks, publishes a version the reader ranks by, and explains scores', async () => {
    expect((await feed('h1')).rankerVersion).toBeNull();
    // rounds of: serve, show, click the good ones
    for (let round = 0; round < 6; round++) {
      const events: InteractionEvent[] = [];
      for (let u = 0; u < 20; u++) {
        const f = await feed(`h${u}`);
        f.items.forEach((item, position) => {
          events.push(ev({ type: 'impression', userId: `v${round}-${u}`, itemId: item.itemId, recommendationId: f.recommendationId, position, feedId: 'home' }));
          if (good(item.itemId)) events.push(ev({ type: 'click', userId: `v${round}-${u}`, itemId: item.itemId, recommendationId: f.recommendationId }));
        });
      }
      await stack.producer.send(events);
    }
    // close every attribution window in event time, then give the trainer a batch after its publish interval
    clock += 120_000;
    await stack.producer.send([ev({ type: 'click', userId: 'tick', itemId: 'i1', recommendationId: null })]);
    await stack.caughtUp();
    await new Promise((r) => setTimeout(r, 1100));
    await stack.producer.send([ev({ type: 'click', userId: 'tick', itemId: 'i3', recommendationId: null })]);
    await eventually('a ranker version', () => stack.redis.get(rankerCurrentKey(tenant)), (v) => v !== null, 30_000);
    // the trainer may publish again meanwhile: the reader follows the pointer within its refresh interval
    await eventually(
      'the reader ranks with the current version',
      async () => [(await feed('h2')).rankerVersion, await stack.redis.get(rankerCurrentKey(tenant))],
      ([served, current]) => served !== null && served === current,
      20_000,
    );

    // the learned order: shown items are mostly the good ones, and the good ones lead
    let goodShown = 0;
    let shown = 0;
    for (let u = 0; u < 20; u++) {
      const f = await feed(`h${u}`);
      shown += f.items.length;
      goodShown += f.items.filter((i) => good(i.itemId)).length;
    }
    expect(goodShown / shown).toBeGreaterThan(0.8);
    const explained = await feed('h3', true);
    const top = explained.items[0]!;
    expect(good(top.itemId)).toBe(true);
    expect(top.explanation!.probability).toBeGreaterThan(0.2);
    const itemContribution = top.explanation!.contributions.find((c) => c.feature === `item=${top.itemId}`);
    expect(itemContribution!.contribution).toBeGreaterThan(0);
  });
});
