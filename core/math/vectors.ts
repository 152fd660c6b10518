// Vector normalisation for cosine retrieval: with unit item vectors, cosine ranking equals dot-product ranking.

/** A unit-length copy as a plain array (what hnswlib takes); the zero vector stays zero. */
export function normalized(v: ArrayLike<number>): number[] {
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i]! * v[i]!;
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  return Array.from(v, (x) => x * scale);
}

/**
 * Maximum-inner-product search through a cosine index (Bachrach et al. 2014): every item y becomes [y, sqrt(M² − |y|²)]
 * with M the largest item norm, and a query q becomes [q, 0]. Then cos(q', y') = q·y / (M·|q|): the cosine order is the
 * dot-product order ALS scores with, and the dot product is cos · M · |q|.
 */
export function mipsItems(
  vectors: ArrayLike<number>,
  count: number,
  dim: number,
): { vectors: Float64Array; dim: number; maxNorm: number } {
  let maxNorm = 0;
  const norms = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let n = 0;
    for (let d = 0; d < dim; d++) n += vectors[i * dim + d]! ** 2;
    norms[i] = Math.sqrt(n);
    maxNorm = Math.max(maxNorm, norms[i]!);
  }
  const out = new Float64Array(count * (dim + 1));
  for (let i = 0; i < count; i++) {
    for (let d = 0; d < dim; d++) out[i * (dim + 1) + d] = vectors[i * dim + d]!;
    out[i * (dim + 1) + dim] = Math.sqrt(Math.max(0, maxNorm * maxNorm - norms[i]! * norms[i]!));
  }
  return { vectors: out, dim: dim + 1, maxNorm };
}

export function mipsQuery(query: ArrayLike<number>): number[] {
  return [...Array.from(query), 0];
}
