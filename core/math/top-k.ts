// Selecting a user's top-k items from a dense score vector, skipping what they already have: a bounded min-heap of
// size k, O(n log k), no allocation besides the result. Ties go to the lower item index so lists are reproducible.

/**
 * The k best item indices by descending score. `scores` is scratch: excluded items are overwritten with -Infinity.
 * Items scoring -Infinity or NaN (unscorable, e.g. outside a model's vocabulary) are never returned, so the list can
 * be shorter than k.
 */
export function topKExcluding(scores: Float64Array, k: number, exclude: ArrayLike<number>): Int32Array {
  for (let i = 0; i < exclude.length; i++) scores[exclude[i]!] = -Infinity;
  const heapItems = new Int32Array(k);
  let size = 0;
  // Heap root is the worst kept item: lowest score, and among equal scores the highest index.
  const worse = (a: number, b: number): boolean => scores[a]! < scores[b]! || (scores[a] === scores[b] && a > b);
  const siftDown = (from: number): void => {
    let i = from;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= size) return;
      const r = l + 1;
      const c = r < size && worse(heapItems[r]!, heapItems[l]!) ? r : l;
      if (!worse(heapItems[c]!, heapItems[i]!)) return;
      const t = heapItems[i]!;
      heapItems[i] = heapItems[c]!;
      heapItems[c] = t;
      i = c;
    }
  };
  if (k > 0) {
    for (let item = 0; item < scores.length; item++) {
      const s = scores[item]!;
      if (!(s > -Infinity)) continue;
      if (size < k) {
        let i = size++;
        heapItems[i] = item;
        while (i > 0) {
          const parent = (i - 1) >> 1;
          if (!worse(heapItems[i]!, heapItems[parent]!)) break;
          const t = heapItems[i]!;
          heapItems[i] = heapItems[parent]!;
          heapItems[parent] = t;
          i = parent;
        }
      } else if (s > scores[heapItems[0]!]!) {
        // Items arrive in ascending index, so an equal score never displaces the (lower-index) root.
        heapItems[0] = item;
        siftDown(0);
      }
    }
  }
  // Pop the worst first to fill the result from the back.
  const out = new Int32Array(size);
  for (let at = size - 1; at >= 0; at--) {
    out[at] = heapItems[0]!;
    size--;
    heapItems[0] = heapItems[size]!;
    siftDown(0);
  }
  return out;
}
