import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ALS_PARAMS,
  foldInUser,
  itemGramian,
  recommendAls,
  scoreAll,
  trainAls,
  type AlsModel,
  type AlsParams,
} from '../../core/models/als.ts';
import { csrFromTriples, type SparseMatrix } from '../../core/math/sparse.ts';
import { seededRandom } from '../../core/math/seeded-random.ts';

// Planted structure: users and items fall into 3 groups; a user likes exactly the items of their group (rank 3).
// 60% of the liked cells are observed, the rest are held out.
const nUsers = 150;
const nItems = 60;
const group = (x: number) => x % 3;
const random = seededRandom(11);
const observed: { user: number; item: number; value: number }[] = [];
const heldOut: { user: number; item: number }[] = [];
for (let u = 0; u < nUsers; u++) {
  for (let i = 0; i < nItems; i++) {
    if (group(u) !== group(i)) continue;
    if (random() < 0.6) observed.push({ user: u, item: i, value: 1 + Math.floor(random() * 2) });
    else heldOut.push({ user: u, item: i });
  }
}
const matrix = (cells: readonly { user: number; item: number; value: number }[]): SparseMatrix =>
  csrFromTriples(
    nUsers,
    nItems,
    cells.map((c) => c.user),
    cells.map((c) => c.item),
    cells.map((c) => c.value),
  );
const R = matrix(observed);
const params: AlsParams = { factors: 8, regularization: 0.1, alpha: 5, iterations: 10, cgSteps: 3, seed: 1 };
const userVector = (m: AlsModel, u: number) => m.userFactors.subarray(u * m.factors, (u + 1) * m.factors);
const interactionsOf = (u: number) => observed.filter((c) => c.user === u).map(({ item, value }) => ({ item, value }));

describe('trainAls', () => {
  const model = trainAls(R, params);

  it('recovers planted low-rank structure: held-out positives outrank items the user does not like (AUC > 0.95)', () => {
    let correct = 0;
    let pairs = 0;
    for (let u = 0; u < nUsers; u++) {
      const scores = scoreAll(model, userVector(model, u));
      const positives = heldOut.filter((h) => h.user === u).map((h) => scores[h.item]!);
      for (let i = 0; i < nItems; i++) {
        if (group(i) === group(u)) continue;
        for (const p of positives) {
          pairs++;
          if (p > scores[i]!) correct++;
        }
      }
    }
    expect(correct / pairs).toBeGreaterThan(0.95);
  });

  it('is deterministic for a seed', () => {
    const again = trainAls(R, params);
    expect(again.userFactors).toEqual(model.userFactors);
    expect(again.itemFactors).toEqual(model.itemFactors);
    expect(trainAls(R, { ...params, seed: 2 }).itemFactors).not.toEqual(model.itemFactors);
  });

  it('reports each iteration and gives users and items without data a zero vector', () => {
    const seen: number[] = [];
    const sparse = csrFromTriples(3, 4, [0, 1], [0, 1], [1, 1]);
    const m = trainAls(sparse, { ...params, iterations: 2 }, (it, seconds) => {
      seen.push(it);
      expect(seconds).toBeGreaterThanOrEqual(0);
    });
    expect(seen).toEqual([1, 2]);
    expect(Array.from(userVector(m, 2)).every((v) => v === 0)).toBe(true);
    expect(Array.from(m.itemFactors.subarray(3 * m.factors)).every((v) => v === 0)).toBe(true);
  });

  it('recommends unseen items of the user’s own group first', () => {
    const u = 4;
    const history = interactionsOf(u).map((c) => c.item);
    const top = recommendAls(model, userVector(model, u), history, 5);
    expect(top.length).toBe(5);
    for (const i of top) {
      expect(history).not.toContain(i);
      expect(group(i)).toBe(group(u));
    }
  });

  it('refuses parameters that would not give a positive definite system or a model', () => {
    expect(() => trainAls(R, { ...params, regularization: 0 })).toThrow(/regularization/);
    expect(() => trainAls(R, { ...params, factors: 2.5 })).toThrow(/factors/);
    expect(() => trainAls(R, DEFAULT_ALS_PARAMS)).not.toThrow();
  });
});

describe('foldInUser', () => {
  it('equals the batch user update when item factors are fixed (same normal equations)', () => {
    // With at least `factors` CG steps the batch user solve is exact, so both must agree to rounding.
    const exact = { ...params, cgSteps: params.factors + 2, iterations: 4 };
    const model = trainAls(R, exact);
    const gram = itemGramian(model);
    for (const u of [0, 1, 77, 149]) {
      const folded = foldInUser(model, gram, interactionsOf(u), exact);
      const batch = userVector(model, u);
      for (let k = 0; k < model.factors; k++) expect(folded[k]).toBeCloseTo(batch[k]!, 7);
    }
  });

  it('sums repeated items, and ignores items the model does not know', () => {
    const model = trainAls(R, params);
    const gram = itemGramian(model);
    const once = foldInUser(
      model,
      gram,
      [
        { item: 3, value: 2 },
        { item: 6, value: 1 },
      ],
      params,
    );
    const twice = foldInUser(
      model,
      gram,
      [
        { item: 3, value: 1 },
        { item: 6, value: 1 },
        { item: 3, value: 1 },
        { item: nItems + 5, value: 1 },
      ],
      params,
    );
    for (let k = 0; k < model.factors; k++) expect(twice[k]).toBeCloseTo(once[k]!, 12);
    expect(Array.from(foldInUser(model, gram, [], params)).every((v) => v === 0)).toBe(true);
  });

  it('negative feedback lowers the item’s score, at fold-in and in training', () => {
    const model = trainAls(R, params);
    const gram = itemGramian(model);
    const u = 0;
    const j = heldOut.find((h) => h.user === u)!.item; // liked but unobserved: scores high
    const base = interactionsOf(u);
    const before = scoreAll(model, foldInUser(model, gram, base, params))[j]!;
    const after = scoreAll(model, foldInUser(model, gram, [...base, { item: j, value: -2 }], params))[j]!;
    expect(before).toBeGreaterThan(0.3);
    expect(after).toBeLessThan(before - 0.1);

    const retrained = trainAls(matrix([...observed, { user: u, item: j, value: -2 }]), params);
    expect(scoreAll(retrained, userVector(retrained, u))[j]!).toBeLessThan(
      scoreAll(model, userVector(model, u))[j]! - 0.1,
    );
  });
});
