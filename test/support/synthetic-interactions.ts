// A generated interaction log for benchmarks: power-law item popularity with planted low-rank structure, seeded.
// Every item belongs to one of `topics`; every user favours two topics. An interaction picks a favoured topic with
// probability `focus` (then an item of it, by popularity) or otherwise any item by global popularity. Item popularity
// follows a Zipf law (weight ∝ 1 / rank^zipf) over a shuffled ranking. Values: mostly positive strengths 0.5..2,
// `negativeShare` of them negative feedback.
import { seededRandom, type Random } from '../../core/math/seeded-random.ts';

export interface SyntheticLogParams {
  users: number;
  items: number;
  interactions: number;
  topics: number;
  zipf: number;
  focus: number;
  negativeShare: number;
  seed: number;
}

export const DEFAULT_SYNTHETIC_LOG: SyntheticLogParams = {
  users: 100_000,
  items: 20_000,
  interactions: 1_000_000,
  topics: 32,
  zipf: 1,
  focus: 0.8,
  negativeShare: 0.05,
  seed: 7,
};

export interface SyntheticLog {
  users: Int32Array;
  items: Int32Array;
  values: Float64Array;
}

/** Cumulative weights of a subset of items, for sampling by binary search. */
interface Sampler {
  items: Int32Array;
  cumulative: Float64Array;
}

function sampler(items: number[], weight: Float64Array): Sampler {
  const cumulative = new Float64Array(items.length);
  let total = 0;
  items.forEach((item, k) => {
    total += weight[item]!;
    cumulative[k] = total;
  });
  return { items: Int32Array.from(items), cumulative };
}

function draw(s: Sampler, random: Random): number {
  const target = random() * s.cumulative[s.cumulative.length - 1]!;
  let lo = 0;
  let hi = s.cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (s.cumulative[mid]! < target) lo = mid + 1;
    else hi = mid;
  }
  return s.items[lo]!;
}

export function syntheticLog(p: SyntheticLogParams = DEFAULT_SYNTHETIC_LOG): SyntheticLog {
  const random = seededRandom(p.seed);
  // Shuffled popularity ranks, so popularity is independent of the item index and the topic.
  const rank = Int32Array.from({ length: p.items }, (_, i) => i);
  for (let i = p.items - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rank[i], rank[j]] = [rank[j]!, rank[i]!];
  }
  const weight = Float64Array.from(rank, (r) => 1 / (r + 1) ** p.zipf);
  const byTopic: number[][] = Array.from({ length: p.topics }, () => []);
  for (let i = 0; i < p.items; i++) byTopic[i % p.topics]!.push(i);
  const topicSamplers = byTopic.map((items) => sampler(items, weight));
  const everything = sampler(
    Array.from({ length: p.items }, (_, i) => i),
    weight,
  );

  const users = new Int32Array(p.interactions);
  const items = new Int32Array(p.interactions);
  const values = new Float64Array(p.interactions);
  for (let k = 0; k < p.interactions; k++) {
    // Users get a skewed number of interactions: u ~ users · r², so low ids are the heavy users.
    const r = random();
    const u = Math.min(p.users - 1, Math.floor(p.users * r * r));
    const favourite = (u * 7 + (random() < 0.5 ? 0 : 13)) % p.topics;
    users[k] = u;
    items[k] = random() < p.focus ? draw(topicSamplers[favourite]!, random) : draw(everything, random);
    values[k] = random() < p.negativeShare ? -1 - random() : 0.5 + 1.5 * random();
  }
  return { users, items, values };
}
