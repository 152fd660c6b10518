// bench:load's pure parts: Prometheus text parsing, /proc sampling, lag-growth and saturation verdicts, slopes.
import { describe, expect, it } from 'vitest';
import { lagKeepsGrowing, procSample, saturationPoint, slope } from '../support/processes.ts';
import { metricBy, metricSum, parsePrometheus } from '../support/prometheus.ts';
import { eventStream } from '../../bench/load-producer.ts';
import { validateEvent } from '../../core/events.ts';

describe('Prometheus text', () => {
  const text = [
    '# HELP rankstream_records_consumed_total Records a processor consumed and committed.',
    '# TYPE rankstream_records_consumed_total counter',
    'rankstream_records_consumed_total{processor="ledger-writer",topic="t.events"} 1200',
    'rankstream_records_consumed_total{processor="features",topic="t.events"} 800',
    'rankstream_records_consumed_total{processor="catalog",topic="t.items"} 5',
    'rankstream_http_in_flight 3',
    'rankstream_batch_seconds_bucket{le="+Inf",processor="features"} 7',
    'weird{label="a \\"quoted\\" \\\\ value"} 1e3',
  ].join('\n');
  const samples = parsePrometheus(text);

  it('parses names, labels (escapes included) and values, skipping comments', () => {
    expect(samples).toHaveLength(6);
    expect(samples.find((s) => s.name === 'weird')).toEqual({
      name: 'weird',
      labels: { label: 'a "quoted" \\ value' },
      value: 1000,
    });
    expect(samples.find((s) => s.name === 'rankstream_batch_seconds_bucket')?.labels.le).toBe('+Inf');
  });

  it('sums by label and filter', () => {
    expect(metricSum(samples, 'rankstream_records_consumed_total')).toBe(2005);
    expect(metricSum(samples, 'rankstream_records_consumed_total', { topic: 't.events' })).toBe(2000);
    expect(metricSum(samples, 'rankstream_http_in_flight')).toBe(3);
    expect(metricBy(samples, 'rankstream_records_consumed_total', 'processor')).toEqual({
      'ledger-writer': 1200,
      features: 800,
      catalog: 5,
    });
    expect(metricSum(samples, 'absent')).toBe(0);
  });
});

describe('/proc sampling', () => {
  it("reads this process's resident memory and CPU time; null for a process that is gone", () => {
    const me = procSample(process.pid);
    expect(me).not.toBeNull();
    expect(me!.rssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(me!.peakRssBytes).toBeGreaterThanOrEqual(me!.rssBytes);
    expect(me!.cpuSeconds).toBeGreaterThan(0);
    expect(procSample(2 ** 22 + 12345)).toBeNull();
  });
});

describe('stage verdicts', () => {
  it('lag keeps growing only when it rose by more than 5% of what was produced, and rose through the stage', () => {
    expect(
      lagKeepsGrowing({ start: 1000, end: 30_000, samples: [1000, 8000, 15_000, 22_000, 30_000], produced: 100_000 }),
    ).toBe(true);
    // a consumer keeping up: lag wobbles by a batch
    expect(
      lagKeepsGrowing({ start: 3000, end: 4500, samples: [3000, 5000, 2000, 4000, 4500], produced: 200_000 }),
    ).toBe(false);
    // rose, but by less than 5% of what was produced
    expect(lagKeepsGrowing({ start: 0, end: 9000, samples: [0, 3000, 6000, 9000], produced: 400_000 })).toBe(false);
    // one late batch at the very end after a falling lag is not a rise through the stage
    expect(
      lagKeepsGrowing({
        start: 20_000,
        end: 40_000,
        samples: [20_000, 60_000, 50_000, 5000, 1000, 40_000],
        produced: 100_000,
      }),
    ).toBe(false);
  });

  it('saturation is the first stage with a growing lag or a feed p99 over the bound', () => {
    const stages = [
      { offeredEventsPerS: 2000, laggingGroups: [], feedP99Ms: 40 },
      { offeredEventsPerS: 5000, laggingGroups: [], feedP99Ms: 90 },
      { offeredEventsPerS: 10_000, laggingGroups: ['features'], feedP99Ms: 120 },
      { offeredEventsPerS: 20_000, laggingGroups: ['features', 'ledger-writer'], feedP99Ms: 400 },
    ];
    expect(saturationPoint(stages, 250)).toEqual({
      stage: 3,
      offeredEventsPerS: 10_000,
      reasons: ['lag keeps growing: features'],
    });
    expect(saturationPoint(stages, 80)).toEqual({
      stage: 2,
      offeredEventsPerS: 5000,
      reasons: ['feed p99 90 ms > 80 ms'],
    });
    expect(saturationPoint(stages.slice(0, 2), 250)).toBeNull();
  });

  it('slope is the least-squares rate', () => {
    expect(
      slope([
        { x: 0, y: 1 },
        { x: 1, y: 3 },
        { x: 2, y: 5 },
      ]),
    ).toBeCloseTo(2);
    expect(slope([{ x: 0, y: 5 }])).toBe(0);
    expect(
      slope([
        { x: 1, y: 1 },
        { x: 1, y: 9 },
      ]),
    ).toBe(0);
  });
});

describe("the load producer's events", () => {
  it('are all valid, with unique ids and the intended mix', () => {
    const next = eventStream('bench-load-x', 1000, 200, 'run1');
    const now = Date.now();
    const events = Array.from({ length: 5000 }, () => next(now));
    for (const e of events) expect(validateEvent(e, now).ok, JSON.stringify(e)).toBe(true);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(5000);
    const share = (t: string) => events.filter((e) => e.type === t).length / events.length;
    expect(share('impression')).toBeCloseTo(0.5, 1);
    expect(share('click')).toBeCloseTo(0.35, 1);
  });
});
