/**
 * CSR (compressed sparse rows) for unstructured sparsity: each row of W [N, K]
 * keeps only its nonzeros, as (column, value) pairs in increasing column order.
 *
 *   rowPtr  Uint32Array[N + 1]   row n's entries are [rowPtr[n], rowPtr[n + 1])
 *   colIdx  Uint16Array[nnz] when K <= 65536 (half the index bytes: decode is memory-bound),
 *           Uint32Array[nnz] otherwise
 *   values  Float32Array[nnz] (f32) or Uint16Array[nnz] of bf16 / f16 bits
 */
import { adviseStreamedStorage } from '../backend/huge_pages';
import { bytesPerElement, checkDType, type DType } from '../dtype';
import { SparsennError } from '../errors';
import { Tensor } from '../tensor';
import { denseNonzeros, type UnstructuredOptions } from './nonzeros';
import { readContainer, writeContainer } from './serialize';
import type { SparseMatrix, SparseValues } from './types';

export type IndexArray = Uint16Array | Uint32Array;

export type CsrOptions = UnstructuredOptions;

/** Index arrays use 16 bits when every index fits (count <= 65536). */
export function indexArrayFor(count: number, length: number): IndexArray {
  return count <= 65536 ? new Uint16Array(length) : new Uint32Array(length);
}

function bad(what: string): never {
  throw new SparsennError('ERR_FORMAT', what);
}

/**
 * Checks a compressed-rows structure (shared by CSR and BSR): `ptr` has rows + 1 monotone
 * entries from 0 to idx.length, and each row's indices are strictly increasing and < cols.
 */
export function validateCompressedRows(what: string, ptr: Uint32Array, idx: IndexArray, rows: number, cols: number): void {
  if (!(ptr instanceof Uint32Array)) bad(`${what}: row pointers must be a Uint32Array`);
  if (!(idx instanceof Uint16Array || idx instanceof Uint32Array)) bad(`${what}: indices must be a Uint16Array or Uint32Array`);
  if (ptr.length !== rows + 1) bad(`${what}: row pointers have ${ptr.length} entries, expected ${rows + 1}`);
  if (ptr[0] !== 0) bad(`${what}: row pointers must start at 0, got ${ptr[0]}`);
  if (ptr[rows] !== idx.length) bad(`${what}: last row pointer is ${ptr[rows]}, but there are ${idx.length} indices`);
  for (let r = 0; r < rows; r++) {
    const b = ptr[r]!;
    const e = ptr[r + 1]!;
    if (e < b) bad(`${what}: row pointers decrease at row ${r} (${b} -> ${e})`);
    let prev = -1;
    for (let j = b; j < e; j++) {
      const c = idx[j]!;
      if (c >= cols) bad(`${what}: row ${r} has index ${c}, but there are only ${cols} columns`);
      if (c <= prev) bad(`${what}: row ${r}'s indices are not strictly increasing (${prev} then ${c})`);
      prev = c;
    }
  }
}

export function checkValues(what: string, values: unknown, dtype: DType, length: number): SparseValues {
  const want = dtype === 'f32' ? Float32Array : Uint16Array;
  if (!(values instanceof want)) bad(`${what}: ${dtype} values must be a ${want.name}`);
  if (values.length !== length) bad(`${what}: ${values.length} values, expected ${length}`);
  return values;
}

export function checkMatrixShape(shape: unknown, what: string): [number, number] {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new SparsennError('ERR_SHAPE', `${what}: shape must be [N, K] of non-negative integers`);
  return [shape[0] as number, shape[1] as number];
}

export class CsrMatrix implements SparseMatrix {
  readonly format = 'csr' as const;
  readonly shape: readonly [number, number];
  readonly dtype: DType;
  readonly rowPtr: Uint32Array;
  readonly colIdx: IndexArray;
  readonly values: SparseValues;

  /** Wraps existing arrays (not copied) after validating them; throws ERR_FORMAT when inconsistent. */
  constructor(shape: readonly [number, number], rowPtr: Uint32Array, colIdx: IndexArray, values: SparseValues, dtype: DType) {
    this.shape = Object.freeze(checkMatrixShape(shape, 'CsrMatrix')) as readonly [number, number];
    this.dtype = checkDType(dtype);
    this.rowPtr = rowPtr;
    this.colIdx = colIdx;
    this.values = values;
    this.validate();
    adviseStreamedStorage(colIdx, values);
  }

  get nnz(): number {
    return this.values.length;
  }

  get bytes(): number {
    return this.rowPtr.byteLength + this.colIdx.byteLength + this.values.byteLength;
  }

  /** Fraction of W's elements that are not stored. */
  get sparsity(): number {
    const total = this.shape[0] * this.shape[1];
    return total === 0 ? 0 : 1 - this.nnz / total;
  }

  /** Keeps the nonzeros of a dense [N, K] tensor (exact zeros are dropped). */
  static fromDense(w: Tensor, opts?: CsrOptions): CsrMatrix {
    const { N, K, dtype, rowPtr, cols, values } = denseNonzeros(w, opts, 'toCsr');
    const colIdx = indexArrayFor(K, cols.length);
    colIdx.set(cols);
    return new CsrMatrix([N, K], rowPtr, colIdx, values, dtype);
  }

  toDense(): Tensor {
    const [N, K] = this.shape;
    const out = this.dtype === 'f32' ? new Float32Array(N * K) : new Uint16Array(N * K);
    for (let n = 0; n < N; n++)
      for (let j = this.rowPtr[n]!; j < this.rowPtr[n + 1]!; j++) out[n * K + this.colIdx[j]!] = this.values[j]!;
    return new Tensor(out, [N, K], this.dtype);
  }

  validate(): void {
    const [N, K] = this.shape;
    validateCompressedRows('CSR', this.rowPtr, this.colIdx, N, K);
    if (K > 65536 && this.colIdx instanceof Uint16Array) bad(`CSR: K = ${K} needs Uint32Array column indices`);
    checkValues('CSR', this.values, this.dtype, this.colIdx.length);
  }

  serialize(): Uint8Array {
    return writeContainer({ format: 'csr', dtype: this.dtype, header: [...this.shape], arrays: [this.rowPtr, this.colIdx, this.values] });
  }

  /** Reads a buffer written by serialize(); throws ERR_FORMAT on anything truncated, inconsistent or out of range. */
  static deserialize(bytes: Uint8Array): CsrMatrix {
    const c = readContainer(bytes, 'csr', 2, [['u32'], ['u16', 'u32'], ['f32', 'u16']]);
    const [N, K] = c.header as [number, number];
    const [rowPtr, colIdx, values] = c.arrays as [Uint32Array, IndexArray, SparseValues];
    if (bytesPerElement(c.dtype) !== values.BYTES_PER_ELEMENT) bad(`CSR: values do not match dtype ${c.dtype}`);
    return new CsrMatrix([N, K], rowPtr, colIdx, values, c.dtype);
  }
}

/** Public: compress a dense [N, K] weight into CSR (drops exact zeros). */
export function toCsr(w: Tensor, opts?: CsrOptions): CsrMatrix {
  return CsrMatrix.fromDense(w, opts);
}
