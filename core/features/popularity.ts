// Time-decayed item popularity with forward decay: an event of weight w at time t adds w * 2^((t - epoch) / halfLife)
// to the item's score. Scores only ever grow, so the store needs nothing but atomic increments, and the ranking at
// any moment equals the ranking of exponentially decayed counts. When the exponent grows large the tenant's epoch
// moves forward and every stored score is multiplied by the same factor (a "rebase"), keeping numbers finite.
// Two half-lives share one epoch: a long one (popularity) and a short one (the numerator of trending).
import type { EventType } from '../events.ts';

export interface DecayParams {
  longHalfLifeMs: number;
  shortHalfLifeMs: number;
  weights: Record<EventType, number>;
  /** Rebase once an increment would be scaled by more than 2^maxExponent (on the short half-life). */
  maxExponent: number;
}

export const DEFAULT_WEIGHTS: Record<EventType, number> = { impression: 0, click: 1, engagement: 3, conversion: 5 };

export function decayParams(
  longHalfLifeS: number,
  shortHalfLifeS: number,
  weights: Record<EventType, number> = DEFAULT_WEIGHTS,
): DecayParams {
  return { longHalfLifeMs: longHalfLifeS * 1000, shortHalfLifeMs: shortHalfLifeS * 1000, weights, maxExponent: 40 };
}

export function forwardWeight(weight: number, eventMs: number, epochMs: number, halfLifeMs: number): number {
  return weight * 2 ** ((eventMs - epochMs) / halfLifeMs);
}

/** Converts a stored forward-decay score into the decayed score as of `asOfMs`. */
export function decayedScore(storedScore: number, epochMs: number, asOfMs: number, halfLifeMs: number): number {
  return storedScore * 2 ** (-(asOfMs - epochMs) / halfLifeMs);
}

export interface EpochPlan {
  epochMs: number;
  /** Multiply existing long / short scores by these before adding increments (1 = no rebase). */
  rebaseLong: number;
  rebaseShort: number;
}

/** The epoch a batch's increments are expressed in: the stored one, the batch's first event, or a rebased one. */
export function planEpoch(
  previousEpochMs: number | null,
  earliestMs: number,
  latestMs: number,
  params: DecayParams,
): EpochPlan {
  const epochMs = previousEpochMs ?? earliestMs;
  if ((latestMs - epochMs) / params.shortHalfLifeMs <= params.maxExponent)
    return { epochMs, rebaseLong: 1, rebaseShort: 1 };
  // Move the epoch to the newest event: old scores shrink by the decay they accrued meanwhile.
  const dt = latestMs - epochMs;
  return {
    epochMs: latestMs,
    rebaseLong: 2 ** (-dt / params.longHalfLifeMs),
    rebaseShort: 2 ** (-dt / params.shortHalfLifeMs),
  };
}
