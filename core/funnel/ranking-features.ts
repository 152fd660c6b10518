// Stage 3's inputs: the features the click model scores a candidate by, computed at serving time and logged with the
// recommendation id so training sees exactly what serving saw (no training/serving skew). The slot position is a
// training-only feature (position debiasing): at serving every candidate is scored as if in the same slot, so the
// position's effect on clicks is learned by its own weights instead of leaking into the items'.
import type { Features } from '../models/ftrl.ts';

export interface RankingContext {
  /** The candidate's rail and its rank in the merged pool. */
  source: string;
  poolRank: number;
  itemId: string;
  category: string | null;
  /** Hours since the item entered the catalogue, null when unknown. */
  ageHours: number | null;
  /** The user's ALS score for the item (dot product), null without a user vector or item vector. */
  alsScore: number | null;
  /** Events in the user's current session. */
  sessionEvents: number;
  /** The item's impressions and clicks over the last 7 days (absent in contexts logged before they were recorded). */
  itemShows?: number | null;
  itemClicks?: number | null;
}

const bucket = (x: number) => Math.min(12, Math.floor(Math.log2(1 + Math.max(0, x))));

export function rankingFeatures(c: RankingContext): [string, number][] {
  const f: [string, number][] = [
    [`src=${c.source}`, 1],
    [`rank=${Math.min(c.poolRank, 30)}`, 1],
    [`src=${c.source}×rank=${Math.min(c.poolRank, 30)}`, 1],
    [`item=${c.itemId}`, 1],
    [`sess=${bucket(c.sessionEvents)}`, 1],
  ];
  if (c.category !== null) f.push([`cat=${c.category}`, 1]);
  if (c.ageHours !== null) f.push([`age=${bucket(c.ageHours)}`, 1]);
  // squashed so a model whose dot products are tiny (sparse data) or large (dense) still gets a usable signal
  if (c.alsScore !== null) f.push(['als', Math.tanh(c.alsScore)]);
  const ctr = itemCtr(c);
  if (ctr !== null) f.push([`ctr=${Math.min(12, Math.floor(-Math.log2(ctr)))}`, 1]);
  return f;
}

/** The item's recent click rate, smoothed toward a small prior so a handful of shows says little; null when unknown. */
export function itemCtr(c: RankingContext): number | null {
  if (c.itemShows == null || c.itemClicks == null) return null;
  return (Math.min(c.itemClicks, c.itemShows) + 0.5) / (c.itemShows + 10);
}

/**
 * The same context as a fixed numeric vector, for the tree ranker (which needs columns, not hashed names): missing
 * values are −1 (trees split them off), the rail one-hot. Item identity is left out on purpose: a batch model
 * trained on yesterday's items must rank today's, so it learns from what an item's record and counters say.
 */
export const DENSE_FEATURES = [
  'src=ann',
  'src=popular',
  'src=trending',
  'src=fresh',
  'src=pinned',
  'poolRank',
  'ageHours',
  'als',
  'hasAls',
  'sessionEvents',
  'itemCtr',
  'position',
] as const;

export function denseRankingFeatures(c: RankingContext, position: number): number[] {
  const ctr = itemCtr(c);
  return [
    c.source === 'ann' ? 1 : 0,
    c.source === 'popular' ? 1 : 0,
    c.source === 'trending' ? 1 : 0,
    c.source === 'fresh' ? 1 : 0,
    c.source === 'pinned' ? 1 : 0,
    c.poolRank,
    c.ageHours ?? -1,
    c.alsScore ?? 0,
    c.alsScore === null ? 0 : 1,
    c.sessionEvents,
    ctr ?? -1,
    position,
  ];
}

/** The training features of a logged candidate shown at a slot: the served features plus the position. */
export function withPosition(served: Features, position: number): Features {
  return [...served, [`pos=${Math.min(position, 30)}`, 1]];
}

/** What serving adds for every candidate alike: the reference slot. */
export const SERVING_POSITION = 0;
