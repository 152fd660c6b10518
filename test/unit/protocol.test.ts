import { describe, expect, it } from 'vitest';
import type { InteractionLog } from '../../core/eval/interaction-log.ts';
import { runProtocol } from '../../core/eval/protocol.ts';
import { MODEL_NAMES, type ProtocolConfig } from '../../core/eval/protocol-config.ts';
import { DEFAULT_RATING_VALUES } from '../../core/eval/rating-values.ts';
import { leaveLastNSplit, temporalSplit } from '../../core/eval/splits.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

/** 80 users over 40 items in 4 taste groups, rating their group's items high and others low, over time. */
function plantedLog(): InteractionLog {
  const random = seededRandom(3);
  const user: number[] = [];
  const item: number[] = [];
  const rating: number[] = [];
  const time: number[] = [];
  for (let u = 0; u < 80; u++) {
    const start = Math.floor(random() * 1000);
    for (let k = 0; k < 25; k++) {
      const i = Math.floor(random() * 40);
      user.push(u);
      item.push(i);
      rating.push(i % 4 === u % 4 ? 4 + Math.floor(random() * 2) : 1 + Math.floor(random() * 3));
      time.push(start + k * 10);
    }
  }
  return {
    nUsers: 80,
    nItems: 40,
    user: Int32Array.from(user),
    item: Int32Array.from(item),
    rating: Float64Array.from(rating),
    time: Float64Array.from(time),
  };
}

const config: ProtocolConfig = {
  ks: [5, 10],
  relevantFrom: 4,
  ratingValues: DEFAULT_RATING_VALUES,
  als: { factors: 4, regularization: 0.1, alpha: 3, iterations: 5, cgSteps: 3, seed: 1 },
  ease: { l2: 10, minItemSupport: 2 },
  itemKnn: { neighbours: 10, shrinkage: 1 },
  models: MODEL_NAMES,
};
const distance = (a: number, b: number) => (a % 4 === b % 4 ? 0 : 1);

describe('runProtocol', () => {
  const log = plantedLog();
  for (const split of [temporalSplit(log), leaveLastNSplit(log, 5)]) {
    it(`evaluates every model on the same users under the ${split.name} split`, () => {
      const messages: string[] = [];
      const report = runProtocol(log, split, distance, config, (m) => messages.push(m));
      expect(report.models.map((m) => m.model)).toEqual([...MODEL_NAMES]);
      expect(report.users.evaluated).toBeGreaterThan(5);
      expect(report.rows.train + report.rows.early + report.rows.late).toBe(log.user.length);
      for (const m of report.models) {
        expect(m.metrics.map((x) => x.k)).toEqual([5, 10]);
        for (const x of m.metrics) {
          for (const v of [x.precision, x.recall, x.ndcg, x.map, x.mrr, x.coverage, x.ild]) {
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
        }
      }
      const foldIn = report.models.find((m) => m.model === 'als-fold-in')!.foldIn!;
      expect(foldIn.events).toBe(split.early.length);
      expect(foldIn.usersCreated).toBe(report.users.earlyNotInTrain);
      // The planted tastes are easy: a personalised model must beat the popularity list.
      const ndcg = (name: string) => report.models.find((m) => m.model === name)!.metrics[1]!.ndcg;
      expect(ndcg('als-batch-full')).toBeGreaterThan(ndcg('popularity'));
      expect(messages.length).toBeGreaterThan(0);
    });
  }
});
