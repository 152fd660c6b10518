// Rows of the interaction log as sparse user × item matrices of rating values, and the row helpers the protocol uses.
import { csrFromTriples, type SparseMatrix } from '../math/sparse.ts';
import type { InteractionLog } from './interaction-log.ts';
import { ratingValue, type RatingValues } from './rating-values.ts';

function valuesOf(log: InteractionLog, rows: Int32Array, mapping: RatingValues): Float64Array {
  const out = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) out[k] = ratingValue(log.rating[rows[k]!]!, mapping);
  return out;
}

export function matrixOf(log: InteractionLog, rows: Int32Array, mapping: RatingValues): SparseMatrix {
  const users = new Int32Array(rows.length);
  const items = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    users[k] = log.user[rows[k]!]!;
    items[k] = log.item[rows[k]!]!;
  }
  return csrFromTriples(log.nUsers, log.nItems, users, items, valuesOf(log, rows, mapping));
}

export function positivePart(m: SparseMatrix): SparseMatrix {
  const indptr = new Int32Array(m.nRows + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let r = 0; r < m.nRows; r++) {
    for (let k = m.indptr[r]!; k < m.indptr[r + 1]!; k++) {
      if (m.values[k]! > 0) {
        indices.push(m.indices[k]!);
        values.push(m.values[k]!);
      }
    }
    indptr[r + 1] = indices.length;
  }
  return {
    nRows: m.nRows,
    nCols: m.nCols,
    indptr,
    indices: Int32Array.from(indices),
    values: Float64Array.from(values),
  };
}

export function concat(a: Int32Array, b: Int32Array): Int32Array {
  const out = new Int32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export const row = (m: SparseMatrix, u: number) => ({
  items: m.indices.subarray(m.indptr[u]!, m.indptr[u + 1]!),
  values: m.values.subarray(m.indptr[u]!, m.indptr[u + 1]!),
});
