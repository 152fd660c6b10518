// Vector normalisation for cosine retrieval: with unit item vectors, cosine ranking equals dot-product ranking.

/** A unit-length copy as a plain array (what hnswlib takes); the zero vector stays zero. */
export function normalized(v: ArrayLike<number>): number[] {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return Array.from(v, (x) => x * scale);
}
