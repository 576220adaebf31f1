/**
 * The nonzeros of a dense [N, K] weight, row by row: what every unstructured format (CSR, bitmap)
 * keeps in fromDense. Zeros are found in the stored dtype, so -0 and +0 are both dropped, and so
 * is a value that rounds to zero in bf16 / f16.
 */
import { checkDType, type DType } from '../dtype';
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import type { SparseValues } from './types';

export interface UnstructuredOptions {
  /** Element type of the stored values; defaults to the dense tensor's dtype. */
  dtype?: DType;
}

export interface DenseNonzeros {
  N: number;
  K: number;
  dtype: DType;
  /** Row n's nonzeros are entries [rowPtr[n], rowPtr[n + 1]). */
  rowPtr: Uint32Array;
  /** Column of each nonzero, increasing within a row. */
  cols: Uint32Array;
  /** Each nonzero in the stored dtype (bf16 / f16 as bits). */
  values: SparseValues;
}

/** Checks `w` and `opts` for `fn` (e.g. 'toCsr') and lists w's nonzeros in row order. */
export function denseNonzeros(w: unknown, opts: unknown, fn: string): DenseNonzeros {
  if (!(w instanceof Tensor)) throw new SparsennError('ERR_ARG', `${fn}: w must be a Tensor`);
  const o = checkOptions<UnstructuredOptions>(opts, ['dtype'], fn);
  if (w.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `${fn}: w must be [N, K], got [${w.shape.join(', ')}]`);
  const dtype = o.dtype === undefined ? w.dtype : checkDType(o.dtype, `${fn}: dtype`);
  const [N, K] = w.shape as [number, number];
  const src = w.to(dtype).data;
  const isZero = dtype === 'f32' ? (v: number) => v === 0 : (v: number) => (v & 0x7fff) === 0;
  let nnz = 0;
  for (let i = 0; i < src.length; i++) if (!isZero(src[i]!)) nnz++;
  if (nnz > 0xffffffff) throw new SparsennError('ERR_SHAPE', `${fn}: ${nnz} nonzeros do not fit 32-bit row offsets`);
  const rowPtr = new Uint32Array(N + 1);
  const cols = new Uint32Array(nnz);
  const values = dtype === 'f32' ? new Float32Array(nnz) : new Uint16Array(nnz);
  let j = 0;
  for (let n = 0; n < N; n++) {
    const base = n * K;
    for (let k = 0; k < K; k++) {
      const v = src[base + k]!;
      if (isZero(v)) continue;
      cols[j] = k;
      values[j] = v;
      j++;
    }
    rowPtr[n + 1] = j;
  }
  return { N, K, dtype, rowPtr, cols, values };
}
