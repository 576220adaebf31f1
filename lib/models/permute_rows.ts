/**
 * Reordering the output rows of a Linear weight, dense or sparse, without changing any
 * stored value: used by saveModel to turn llama2.c's interleaved-pair RoPE layout of q and k
 * into Hugging Face's half-split one (see convert.ts for why that permutation is exact).
 *
 * CSR, N:M and bitmap rows are independent, so their arrays are moved row by row (explicit zeros
 * and N:M positions kept as they are). BSR with one-row blocks likewise; taller blocks mix
 * rows, so they are rebuilt from the permuted dense matrix with the same block size.
 */
import { SparsennError } from '../errors';
import { BitmapMatrix } from '../formats/bitmap';
import { BsrMatrix } from '../formats/bsr';
import { CsrMatrix } from '../formats/csr';
import { NmMatrix } from '../formats/nm';
import type { SparseValues } from '../formats/types';
import type { LinearWeight } from '../nn/linear';
import { Tensor } from '../tensor';

/** order[dst] = src: the source row of each output row, for one head block layout. */
export function ropeHalfOrder(heads: number, headDim: number): Int32Array {
  const order = new Int32Array(heads * headDim);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) order[h * headDim + j * half + i] = h * headDim + 2 * i + j;
  return order;
}

/** Gathers fixed-width rows: out row r = src row order[r]. */
function gatherRows<T extends SparseValues | Uint32Array>(src: T, width: number, order: Int32Array): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  for (let r = 0; r < order.length; r++) out.set(src.subarray(order[r]! * width, (order[r]! + 1) * width), r * width);
  return out;
}

/** Gathers variable-length compressed rows (CSR, or BSR block rows). */
function gatherCompressed<I extends Uint16Array | Uint32Array>(ptr: Uint32Array, idx: I, vals: SparseValues, perEntry: number, order: Int32Array) {
  const newPtr = new Uint32Array(ptr.length);
  for (let r = 0; r < order.length; r++) newPtr[r + 1] = newPtr[r]! + ptr[order[r]! + 1]! - ptr[order[r]!]!;
  const newIdx = new (idx.constructor as new (n: number) => I)(idx.length);
  const newVals = new (vals.constructor as new (n: number) => SparseValues)(vals.length);
  for (let r = 0; r < order.length; r++) {
    const b = ptr[order[r]!]!;
    const e = ptr[order[r]! + 1]!;
    newIdx.set(idx.subarray(b, e), newPtr[r]!);
    newVals.set(vals.subarray(b * perEntry, e * perEntry), newPtr[r]! * perEntry);
  }
  return { ptr: newPtr, idx: newIdx, vals: newVals };
}

export function permuteRows(w: LinearWeight, order: Int32Array): LinearWeight {
  const rows = (w as { shape: readonly number[] }).shape[0]!;
  if (order.length !== rows) throw new SparsennError('ERR_SHAPE', `permuteRows: ${order.length} row indices for ${rows} rows`);
  if (w instanceof Tensor) {
    const k = w.shape[1]!;
    return new Tensor(gatherRows(w.data, k, order), [rows, k], w.dtype);
  }
  if (w instanceof CsrMatrix) {
    const g = gatherCompressed(w.rowPtr, w.colIdx, w.values, 1, order);
    return new CsrMatrix(w.shape, g.ptr, g.idx, g.vals, w.dtype);
  }
  if (w instanceof NmMatrix) {
    const perRow = w.groups * w.n;
    return new NmMatrix(w.shape, w.n, w.m, gatherRows(w.values, perRow, order), gatherRows(w.meta, w.metaWords, order), w.dtype);
  }
  if (w instanceof BsrMatrix) {
    const [br, bc] = w.block;
    if (br === 1) {
      const g = gatherCompressed(w.blockRowPtr, w.blockCol, w.values, bc, order);
      return new BsrMatrix(w.shape, w.block, g.ptr, g.idx, g.vals, w.dtype);
    }
    return BsrMatrix.fromDense(permuteRows(w.toDense(), order) as Tensor, { block: w.block });
  }
  if (w instanceof BitmapMatrix) {
    // Rows are independent: masks move as fixed-width rows, values as variable-length ones.
    const g = gatherCompressed(w.rowPtr, new Uint16Array(w.nnz), w.values, 1, order);
    return new BitmapMatrix(w.shape, gatherRows(w.masks, w.groups, order), g.ptr, g.vals, w.dtype);
  }
  throw new SparsennError('ERR_ARG', 'permuteRows: unsupported weight type');
}
