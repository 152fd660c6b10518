// Distance between two items as 1 - Jaccard similarity of their genre sets, for intra-list diversity. Genre sets are
// packed into bitmasks once, so a distance is a few popcounts.

export type ItemDistance = (a: number, b: number) => number;

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/** An item without genres shares nothing with anything: distance 1 (also to another genre-less item). */
export function genreJaccardDistance(genres: readonly (readonly string[])[]): ItemDistance {
  const ids = new Map<string, number>();
  for (const list of genres) for (const g of list) if (!ids.has(g)) ids.set(g, ids.size);
  const words = Math.max(1, Math.ceil(ids.size / 32));
  const masks = new Uint32Array(genres.length * words);
  genres.forEach((list, item) => {
    for (const g of list) {
      const id = ids.get(g)!;
      masks[item * words + (id >>> 5)]! |= 1 << (id & 31);
    }
  });
  return (a, b) => {
    let inter = 0;
    let union = 0;
    for (let w = 0; w < words; w++) {
      const x = masks[a * words + w]!;
      const y = masks[b * words + w]!;
      inter += popcount(x & y);
      union += popcount(x | y);
    }
    return union === 0 ? 1 : 1 - inter / union;
  };
}
