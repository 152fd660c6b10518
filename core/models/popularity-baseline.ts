// The non-personalised baseline: items ranked by how many training interactions they have (any rating: being
// interacted with is what "popular" means here), the same list for everyone minus what they already have.
import { topKExcluding } from '../math/top-k.ts';

export interface PopularityModel {
  /** Interactions per item. */
  counts: Float64Array;
}

export function trainPopularity(items: ArrayLike<number>, nItems: number): PopularityModel {
  const counts = new Float64Array(nItems);
  for (let k = 0; k < items.length; k++) counts[items[k]!]!++;
  return { counts };
}

/** The k most interacted items the user does not already have; ties go to the lower item index. */
export function recommendPopular(
  model: PopularityModel,
  history: ArrayLike<number>,
  k: number,
  scratch: Float64Array = new Float64Array(model.counts.length),
): Int32Array {
  scratch.set(model.counts);
  return topKExcluding(scratch, k, history);
}
