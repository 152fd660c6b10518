// Compressed sparse row matrices: row r's entries are indices/values[indptr[r] .. indptr[r + 1]), column indices
// strictly increasing within a row.

export interface SparseMatrix {
  nRows: number;
  nCols: number;
  indptr: Int32Array;
  indices: Int32Array;
  values: Float64Array;
}

/**
 * Builds a CSR matrix from (row, col, value) triples in any order: duplicates of a cell are summed (so a log of
 * repeated interactions becomes one cell holding their total), columns end up sorted within each row.
 */
export function csrFromTriples(
  nRows: number,
  nCols: number,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
  values: ArrayLike<number>,
): SparseMatrix {
  const n = rows.length;
  if (cols.length !== n || values.length !== n)
    throw new Error(`csrFromTriples: ${n} rows, ${cols.length} cols, ${values.length} values`);
  for (let k = 0; k < n; k++) {
    const r = rows[k]!;
    const c = cols[k]!;
    if (!(Number.isInteger(r) && r >= 0 && r < nRows && Number.isInteger(c) && c >= 0 && c < nCols)) {
      throw new RangeError(`csrFromTriples: cell (${r}, ${c}) outside ${nRows}×${nCols}`);
    }
  }
  // Two stable counting sorts, by column then by row, leave every row's columns ascending in O(nnz + nRows + nCols).
  const byCol = countingOrder(cols, nCols, null);
  const order = countingOrder(rows, nRows, byCol);
  const cellCols = new Int32Array(n);
  const cellValues = new Float64Array(n);
  const indptr = new Int32Array(nRows + 1);
  let out = 0;
  let row = 0;
  for (let i = 0; i < n; i++) {
    const k = order[i]!;
    const r = rows[k]!;
    while (row < r) indptr[++row] = out;
    if (out > indptr[r]! && cellCols[out - 1] === cols[k]) cellValues[out - 1]! += values[k]!;
    else {
      cellCols[out] = cols[k]!;
      cellValues[out] = values[k]!;
      out++;
    }
  }
  while (row < nRows) indptr[++row] = out;
  return { nRows, nCols, indptr, indices: cellCols.slice(0, out), values: cellValues.slice(0, out) };
}

/** Positions 0..n-1 (or `within`, a permutation of them) stably reordered by key. */
function countingOrder(keys: ArrayLike<number>, nKeys: number, within: Int32Array | null): Int32Array {
  const n = keys.length;
  const next = new Int32Array(nKeys + 1);
  for (let k = 0; k < n; k++) next[keys[k]! + 1]!++;
  for (let key = 0; key < nKeys; key++) next[key + 1]! += next[key]!;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = within === null ? i : within[i]!;
    order[next[keys[k]!]!++] = k;
  }
  return order;
}

/** The transpose, also in CSR (i.e. the original in CSC); rows of the result come out with sorted indices. */
export function transpose(m: SparseMatrix): SparseMatrix {
  const nnz = m.indices.length;
  const indptr = new Int32Array(m.nCols + 1);
  for (let k = 0; k < nnz; k++) indptr[m.indices[k]! + 1]!++;
  for (let c = 0; c < m.nCols; c++) indptr[c + 1]! += indptr[c]!;
  const next = indptr.slice(0, m.nCols);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  for (let r = 0; r < m.nRows; r++) {
    for (let k = m.indptr[r]!; k < m.indptr[r + 1]!; k++) {
      const at = next[m.indices[k]!]!++;
      indices[at] = r;
      values[at] = m.values[k]!;
    }
  }
  return { nRows: m.nCols, nCols: m.nRows, indptr, indices, values };
}

/** Number of stored entries of each column. */
export function columnCounts(m: SparseMatrix): Int32Array {
  const counts = new Int32Array(m.nCols);
  for (let k = 0; k < m.indices.length; k++) counts[m.indices[k]!]!++;
  return counts;
}
