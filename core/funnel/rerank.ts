// Re-ranking: the last stage of the funnel, from a ranked candidate pool to the k items shown. In order:
//   1. business rules: exclude by attribute, boost by attribute (multiplies relevance), pin items to the top;
//   2. freshness boost: relevance × (1 + boost · 2^(−age / half-life));
//   3. greedy selection by maximal marginal relevance (Carbonell & Goldstein 1998), λ·relevance − (1−λ)·max similarity
//      to what is already selected, under a per-category cap;
//   4. exploration slots: the last `slots` positions may show an item from the rest of the pool, by ε-greedy or
//      Thompson sampling on the items' click counts, and every position carries the probability that the policy put
//      that item there (the propensity off-policy evaluation needs).
// Relevance is the pool's rank turned into (0, 1] (1 for the best): rails' raw scores are on different scales until
// the learned ranker scores them all. Pure and deterministic given the random source.
import type { Random } from '../math/seeded-random.ts';

export interface RerankItem {
  itemId: string;
  /** Position in the ranked pool (0 = best). */
  rank: number;
  source: string;
  category: string | null;
  attributes: Record<string, string[]>;
  /** Catalogue creation time (ms), null when unknown. */
  createdAt: number | null;
  /** Click feedback for Thompson sampling. */
  shows: number;
  clicks: number;
}

export interface BusinessRules {
  /** Items placed first, in this order, when they are in the pool. */
  pin: string[];
  boost: { attribute: string; value: string; factor: number }[];
  exclude: { attribute: string; values: string[] }[];
}

export type ExplorationPolicy =
  | { kind: 'none' }
  | { kind: 'epsilon-greedy'; epsilon: number; slots: number }
  | { kind: 'thompson'; slots: number; priorClicks: number; priorShows: number; draws: number };

export interface RerankConfig {
  /** 1: relevance only; lower trades relevance for diversity. */
  mmrLambda: number;
  /** Most items per category (null: no cap). */
  maxPerCategory: number | null;
  freshnessBoost: number;
  freshnessHalfLifeMs: number;
  rules: BusinessRules;
  exploration: ExplorationPolicy;
}

export const DEFAULT_RERANK: RerankConfig = {
  mmrLambda: 1,
  maxPerCategory: null,
  freshnessBoost: 0,
  freshnessHalfLifeMs: 24 * 3600 * 1000,
  rules: { pin: [], boost: [], exclude: [] },
  exploration: { kind: 'none' },
};

export interface Placed {
  itemId: string;
  source: string;
  /** Probability that the policy showed this item at this position (1 for deterministic positions). */
  propensity: number;
  /** 'explore' when an exploration slot chose it. */
  slot: 'exploit' | 'explore' | 'pinned';
}

const valueSets = new WeakMap<RerankItem, Set<string>>();

function valueSet(item: RerankItem): Set<string> {
  let set = valueSets.get(item);
  if (!set) {
    set = new Set(Object.entries(item.attributes).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)));
    valueSets.set(item, set);
  }
  return set;
}

/**
 * Similarity of two items in [0, 1]: same category 1, else the Jaccard overlap of their attribute values (each item's
 * value set built once: MMR compares every candidate with every pick).
 */
export function attributeSimilarity(a: RerankItem, b: RerankItem): number {
  if (a.category !== null && a.category === b.category) return 1;
  const va = valueSet(a);
  const vb = valueSet(b);
  if (va.size === 0 || vb.size === 0) return 0;
  let shared = 0;
  for (const v of vb) if (va.has(v)) shared++;
  return shared / (va.size + vb.size - shared);
}

/** Whether an exclusion rule removes an item with these attributes. */
export function excludedByRules(
  attributes: Readonly<Record<string, readonly string[]>>,
  rules: Pick<BusinessRules, 'exclude'>,
): boolean {
  return rules.exclude.some((r) => (attributes[r.attribute] ?? []).some((v) => r.values.includes(v)));
}

function relevance(item: RerankItem, poolSize: number, cfg: RerankConfig, nowMs: number): number {
  let r = 1 - item.rank / Math.max(1, poolSize);
  for (const b of cfg.rules.boost) if ((item.attributes[b.attribute] ?? []).includes(b.value)) r *= b.factor;
  if (cfg.freshnessBoost > 0 && item.createdAt !== null)
    r *= 1 + cfg.freshnessBoost * Math.pow(2, -Math.max(0, nowMs - item.createdAt) / cfg.freshnessHalfLifeMs);
  return r;
}

/** A Beta(a, b) draw as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b) (Marsaglia–Tsang; a, b ≥ 1 here). */
function betaDraw(a: number, b: number, random: Random): number {
  const gamma = (shape: number): number => {
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        // Box–Muller normal
        x = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = random();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  };
  const x = gamma(a);
  return x / (x + gamma(b));
}

/**
 * Re-ranks a pool (best first) into k placements. `similarity` defaults to attributeSimilarity; the caller may pass
 * one over embeddings.
 */
export function rerank(
  pool: readonly RerankItem[],
  k: number,
  cfg: RerankConfig,
  random: Random,
  nowMs: number,
  similarity: (a: RerankItem, b: RerankItem) => number = attributeSimilarity,
): Placed[] {
  const candidates = pool.filter((i) => !excludedByRules(i.attributes, cfg.rules));
  const rel = new Map(candidates.map((i) => [i.itemId, relevance(i, pool.length, cfg, nowMs)]));
  const placed: Placed[] = [];
  const chosen = new Set<RerankItem>();
  const perCategory = new Map<string, number>();
  // each candidate's largest similarity to anything chosen so far, kept current as items are taken: O(pool · k)
  // similarity calls in all, where recomputing it per pick would be O(pool · k²)
  const maxSim = new Map<RerankItem, number>();
  const take = (item: RerankItem, p: Omit<Placed, 'itemId' | 'source'>) => {
    placed.push({ itemId: item.itemId, source: item.source, ...p });
    chosen.add(item);
    if (item.category !== null) perCategory.set(item.category, (perCategory.get(item.category) ?? 0) + 1);
    if (cfg.mmrLambda < 1)
      for (const c of candidates) if (!chosen.has(c)) maxSim.set(c, Math.max(maxSim.get(c) ?? 0, similarity(c, item)));
  };
  const byId = new Map(candidates.map((i) => [i.itemId, i]));
  for (const id of cfg.rules.pin) {
    const item = byId.get(id);
    if (item && placed.length < k && !chosen.has(item)) take(item, { propensity: 1, slot: 'pinned' });
  }
  const open = () =>
    candidates.filter(
      (i) =>
        !chosen.has(i) &&
        (cfg.maxPerCategory === null || i.category === null || (perCategory.get(i.category) ?? 0) < cfg.maxPerCategory),
    );
  const explore = cfg.exploration.kind === 'none' ? 0 : Math.min(cfg.exploration.slots, k);
  const mmrPick = (rest: RerankItem[]): RerankItem | undefined => {
    let best: RerankItem | undefined;
    let bestScore = -Infinity;
    for (const i of rest) {
      const score = cfg.mmrLambda * rel.get(i.itemId)! - (1 - cfg.mmrLambda) * (maxSim.get(i) ?? 0);
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    return best;
  };
  while (placed.length < k) {
    const rest = open();
    if (rest.length === 0) break;
    const greedy = mmrPick(rest)!;
    if (placed.length < k - explore) {
      take(greedy, { propensity: 1, slot: 'exploit' });
      continue;
    }
    // an exploration slot
    const e = cfg.exploration;
    if (e.kind === 'epsilon-greedy') {
      if (random() < e.epsilon) {
        const item = rest[Math.floor(random() * rest.length)]!;
        take(item, { propensity: e.epsilon / rest.length + (item === greedy ? 1 - e.epsilon : 0), slot: 'explore' });
      } else {
        take(greedy, { propensity: 1 - e.epsilon + e.epsilon / rest.length, slot: 'exploit' });
      }
    } else if (e.kind === 'thompson') {
      // the item with the highest sampled click rate; its propensity estimated by repeating the draw
      const sample = () => {
        let best = rest[0]!;
        let top = -1;
        for (const i of rest) {
          const x = betaDraw(
            e.priorClicks + i.clicks,
            e.priorShows - e.priorClicks + Math.max(0, i.shows - i.clicks),
            random,
          );
          if (x > top) {
            top = x;
            best = i;
          }
        }
        return best;
      };
      const item = sample();
      let wins = 1;
      for (let d = 1; d < e.draws; d++) if (sample() === item) wins++;
      take(item, { propensity: wins / e.draws, slot: 'explore' });
    }
  }
  return placed;
}
