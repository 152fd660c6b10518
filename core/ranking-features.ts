// Stage 3's inputs: the features the click model scores a candidate by, computed at serving time and logged with the
// recommendation id so training sees exactly what serving saw (no training/serving skew). The slot position is a
// training-only feature (position debiasing): at serving every candidate is scored as if in the same slot, so the
// position's effect on clicks is learned by its own weights instead of leaking into the items'.
import type { Features } from './models/ftrl.ts';

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
  return f;
}

/** The training features of a logged candidate shown at a slot: the served features plus the position. */
export function withPosition(served: Features, position: number): Features {
  return [...served, [`pos=${Math.min(position, 30)}`, 1]];
}

/** What serving adds for every candidate alike: the reference slot. */
export const SERVING_POSITION = 0;
