// The two ways the offline protocol cuts a log into train / test-early / test-late. Every part lists log rows in
// chronological order (ties in file order), so test-early can be replayed as a stream.
import { chronologicalOrder, type InteractionLog } from './interaction-log.ts';

export interface Split {
  name: 'temporal' | 'leave-last-n';
  description: string;
  train: Int32Array;
  /** Test period, first half: training data for every model except the fold-in row, which streams it in. */
  early: Int32Array;
  /** Test period, second half: where relevant items come from. */
  late: Int32Array;
  /** The cut's parameter, the train fraction (temporal) or n (leave-last-n), so `splitRowsAgain` can repeat it. */
  parameter: number;
}

/**
 * Global temporal split. t_train = the timestamp at the `trainFraction` quantile of all rows (row
 * floor(trainFraction·N) in time order): train = rows with time < t_train, test = the rest, so every train timestamp
 * is strictly before every test timestamp. The test rows are cut the same way at their median timestamp t_mid:
 * early = time < t_mid, late = time >= t_mid. Rows sharing a boundary timestamp all fall on the later side.
 */
export function temporalSplit(
  log: InteractionLog,
  trainFraction = 0.8,
): Split & { trainEnd: number; lateStart: number } {
  const order = chronologicalOrder(log);
  const n = order.length;
  if (n === 0) throw new Error('temporalSplit: empty log');
  const trainEnd = log.time[order[Math.min(n - 1, Math.floor(trainFraction * n))]!]!;
  const firstTest = lowerBound(order, log.time, trainEnd);
  const test = order.subarray(firstTest);
  const lateStart = test.length === 0 ? Infinity : log.time[test[Math.floor(test.length / 2)]!]!;
  const firstLate = firstTest + lowerBound(test, log.time, lateStart);
  return {
    name: 'temporal',
    description: `train: time < ${iso(trainEnd)} (${Math.round(trainFraction * 100)}th percentile of timestamps); test-early: up to ${iso(lateStart)} (test median); test-late: from ${iso(lateStart)}`,
    train: order.slice(0, firstTest),
    early: order.slice(firstTest, firstLate),
    late: order.slice(firstLate),
    parameter: trainFraction,
    trainEnd,
    lateStart,
  };
}

/**
 * Per-user leave-last-n. For each user with more than n rows (in their own time order): the last n are test-late,
 * the up to n rows before those are test-early, the rest are train. Users with at most n rows are entirely train.
 * A user with between n + 1 and 2n rows has no train rows, so the train-only models meet them first in test-early.
 * Unlike the temporal split this leaks across users: one user's train rows can be later than another's test rows.
 */
export function leaveLastNSplit(log: InteractionLog, n: number): Split {
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`leaveLastNSplit: n must be a positive integer, got ${n}`);
  const order = chronologicalOrder(log);
  // Position of each row within its user's chronological history, counted from the end.
  const perUser = new Int32Array(log.nUsers);
  for (const row of order) perUser[log.user[row]!]!++;
  const seen = new Int32Array(log.nUsers);
  const train: number[] = [];
  const early: number[] = [];
  const late: number[] = [];
  for (const row of order) {
    const u = log.user[row]!;
    const total = perUser[u]!;
    const fromEnd = total - seen[u]!++; // n .. 1 for the last n rows
    if (total <= n || fromEnd > 2 * n) train.push(row);
    else if (fromEnd > n) early.push(row);
    else late.push(row);
  }
  return {
    name: 'leave-last-n',
    description: `per user with > ${n} ratings: last ${n} = test-late, the ${n} before = test-early, rest = train`,
    train: Int32Array.from(train),
    early: Int32Array.from(early),
    late: Int32Array.from(late),
    parameter: n,
  };
}

/**
 * Cuts some of the log's rows (a history, say) the way `split` cut the whole log, as if they were the whole log:
 * the parts hold rows of the original log. The learned ranker's inner splits use it to learn on the history alone.
 */
export function splitRowsAgain(split: Split, log: InteractionLog, rows: ArrayLike<number>): Split {
  // ascending row order, so rows sharing a timestamp keep their file order in the sub-log as in the log
  const sorted = Int32Array.from(rows).sort();
  const sub: InteractionLog = {
    nUsers: log.nUsers,
    nItems: log.nItems,
    user: Int32Array.from(sorted, (r) => log.user[r]!),
    item: Int32Array.from(sorted, (r) => log.item[r]!),
    rating: Float64Array.from(sorted, (r) => log.rating[r]!),
    time: Float64Array.from(sorted, (r) => log.time[r]!),
  };
  const inner = split.name === 'temporal' ? temporalSplit(sub, split.parameter) : leaveLastNSplit(sub, split.parameter);
  const back = (part: Int32Array) => Int32Array.from(part, (k) => sorted[k]!);
  return {
    name: inner.name,
    description: inner.description,
    train: back(inner.train),
    early: back(inner.early),
    late: back(inner.late),
    parameter: inner.parameter,
  };
}

/** First position in `rows` (sorted by time) whose time is >= t. */
function lowerBound(rows: Int32Array, time: Float64Array, t: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (time[rows[mid]!]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function iso(seconds: number): string {
  return Number.isFinite(seconds) ? new Date(seconds * 1000).toISOString().slice(0, 19) + 'Z' : 'never';
}
