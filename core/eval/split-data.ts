// What one split gives the protocol: the history matrix every model is fitted on, the evaluated users and their
// relevant items; and the same definition of relevant applied to the inner splits the learned ranker trains on.
import type { SparseMatrix } from '../math/sparse.ts';
import type { InteractionLog } from './interaction-log.ts';
import type { ProtocolConfig } from './protocol-config.ts';
import { concat, matrixOf, positivePart, row } from './rating-matrix.ts';
import type { Split } from './splits.ts';

/** Everything the models are fitted on or judged against for one split, built once. */
export interface SplitData {
  /** Train ∪ early, signed values (zeros kept: the item still counts as history). */
  history: SparseMatrix;
  /** The positive part of `history`, the weights for item-kNN and EASE. */
  positive: SparseMatrix;
  evaluated: Int32Array;
  relevant: Map<number, Set<number>>;
}

export function prepare(
  log: InteractionLog,
  split: Split,
  config: ProtocolConfig,
): SplitData & { coldSkipped: number } {
  const history = matrixOf(log, concat(split.train, split.early), config.ratingValues);
  const relevant = new Map<number, Set<number>>();
  for (const r of split.late) {
    if (log.rating[r]! < config.relevantFrom) continue;
    const u = log.user[r]!;
    const i = log.item[r]!;
    if (row(history, u).items.includes(i)) continue;
    let set = relevant.get(u);
    if (!set) relevant.set(u, (set = new Set()));
    set.add(i);
  }
  const users = [...relevant.keys()].sort((a, b) => a - b);
  const evaluated = Int32Array.from(users.filter((u) => history.indptr[u + 1]! > history.indptr[u]!));
  return {
    history,
    positive: positivePart(history),
    evaluated,
    relevant,
    coldSkipped: users.length - evaluated.length,
  };
}

/**
 * An inner split's labels: per user with a non-empty fitted history, the items of their `late` rows rated >=
 * `relevantFrom` that are not in that history (the protocol's own definition of relevant), users ascending.
 */
export function innerLabels(
  log: InteractionLog,
  late: Int32Array,
  history: SparseMatrix,
  relevantFrom: number,
): Map<number, Set<number>> {
  const labels = new Map<number, Set<number>>();
  for (const r of late) {
    const u = log.user[r]!;
    const i = log.item[r]!;
    if (
      log.rating[r]! < relevantFrom ||
      history.indptr[u + 1] === history.indptr[u] ||
      row(history, u).items.includes(i)
    )
      continue;
    let set = labels.get(u);
    if (!set) labels.set(u, (set = new Set()));
    set.add(i);
  }
  return new Map([...labels].sort((a, b) => a[0] - b[0]));
}
