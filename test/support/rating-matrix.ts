// The matrix benches train ALS on from a rating log (MovieLens): every rating, mapped to an implicit-feedback value by
// the evaluation's default mapping (core/eval/rating-values.ts), as users × items.
import type { InteractionLog } from '../../core/eval/interaction-log.ts';
import { DEFAULT_RATING_VALUES, ratingValue } from '../../core/eval/rating-values.ts';
import { csrFromTriples, type SparseMatrix } from '../../core/math/sparse.ts';

export function ratingMatrix(log: InteractionLog): SparseMatrix {
  const values = Float64Array.from(log.rating, (r) => ratingValue(r, DEFAULT_RATING_VALUES));
  return csrFromTriples(log.nUsers, log.nItems, log.user, log.item, values);
}
