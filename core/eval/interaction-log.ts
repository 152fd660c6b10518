// A rating log as parallel columns over dense ids (users 0..nUsers-1, items 0..nItems-1): what the offline protocol
// works on, independent of the file it came from. A "row" is an index into these columns.

export interface InteractionLog {
  nUsers: number;
  nItems: number;
  user: Int32Array;
  item: Int32Array;
  rating: Float64Array;
  /** Seconds since the epoch. */
  time: Float64Array;
}

/** Rows in chronological order; equal timestamps keep file order so every split is reproducible. */
export function chronologicalOrder(log: InteractionLog, rows?: Int32Array): Int32Array {
  const order = rows ? rows.slice() : Int32Array.from({ length: log.user.length }, (_, k) => k);
  const { time } = log;
  order.sort((a, b) => time[a]! - time[b]! || a - b);
  return order;
}
