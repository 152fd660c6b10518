// How an explicit rating becomes the signed interaction strength the models learn from. One mapping for every model:
// ALS reads the sign (positive = liked, negative = negative feedback) and the magnitude (confidence); item-kNN and
// EASE, which have no notion of negative feedback, use the positive values as weights; popularity counts rows.

export interface RatingValues {
  /** Ratings at or above this are positive, with strength rating - neutral. */
  positiveFrom: number;
  /** Ratings at or below this are negative feedback, with strength rating - neutral (< 0). */
  negativeUpTo: number;
  /** Ratings strictly between the two thresholds carry no preference signal (value 0). */
  neutral: number;
}

/** 3.5..5 -> +0.5..+2, 2.5..3 -> 0, 0.5..2 -> -2.5..-1 (MovieLens half-star scale). */
export const DEFAULT_RATING_VALUES: RatingValues = { positiveFrom: 3.5, negativeUpTo: 2, neutral: 3 };

export function ratingValue(rating: number, mapping: RatingValues): number {
  if (rating >= mapping.positiveFrom || rating <= mapping.negativeUpTo) return rating - mapping.neutral;
  return 0;
}
