/**
 * BSR (block-sparse rows): W [N, K] cut into fixed [br, bc] blocks; a block is
 * stored, densely, when any of its elements is nonzero. Dense blocks let kernels
 * use SIMD without gathers: 1×16 blocks vectorise along K, 16×1 along N.
 *
 * Padding rule: when br does not divide N (or bc does not divide K) the matrix is
 * treated as padded with zeros up to [ceil(N/br)·br, ceil(K/bc)·bc]; edge blocks
 * store those zeros, toDense() crops them back, and kernels never read x or write
 * y outside the real [N, K].
 *
 *   blockRowPtr  Uint32Array[NB + 1], NB = ceil(N / br)
 *   blockCol     Uint16Array (KB = ceil(K / bc) <= 65536) or Uint32Array, per stored block
 *   values       [nblocks, br·bc] row-major within each block: Float32Array or Uint16Array bits
 */
import { adviseStreamedStorage } from '../backend/huge_pages';
import { bytesPerElement, checkDType, type DType } from '../dtype';
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { checkMatrixShape, checkValues, indexArrayFor, validateCompressedRows, type IndexArray } from './csr';
import { readContainer, writeContainer } from './serialize';
import type { SparseMatrix, SparseValues } from './types';

export interface BsrOptions {
  /** Block size [rows, cols], each a positive integer; for example [1, 16], [16, 1], [4, 4], [8, 8]. */
  block: readonly [number, number];
  /** Element type of the stored values; defaults to the dense tensor's dtype. */
  dtype?: DType;
}

/** Largest block allowed: kernels keep one block (converted to f32) in a stack-sized buffer. */
export const MAX_BLOCK_ELEMENTS = 4096;

function checkBlock(block: unknown, what: string): [number, number] {
  if (
    !Array.isArray(block) ||
    block.length !== 2 ||
    !block.every((d) => Number.isSafeInteger(d) && d >= 1) ||
    (block[0] as number) * (block[1] as number) > MAX_BLOCK_ELEMENTS
  )
    throw new SparsennError(
      'ERR_ARG',
      `${what}: block must be [rows, cols] of positive integers with rows·cols <= ${MAX_BLOCK_ELEMENTS}, got ${JSON.stringify(block)}`,
    );
  return [block[0] as number, block[1] as number];
}

export class BsrMatrix implements SparseMatrix {
  readonly format = 'bsr' as const;
  readonly shape: readonly [number, number];
  readonly block: readonly [number, number];
  readonly dtype: DType;
  readonly blockRowPtr: Uint32Array;
  readonly blockCol: IndexArray;
  readonly values: SparseValues;

  /** Wraps existing arrays (not copied) after validating them; throws ERR_FORMAT when inconsistent. */
  constructor(
    shape: readonly [number, number],
    block: readonly [number, number],
    blockRowPtr: Uint32Array,
    blockCol: IndexArray,
    values: SparseValues,
    dtype: DType,
  ) {
    this.shape = Object.freeze(checkMatrixShape(shape, 'BsrMatrix')) as readonly [number, number];
    this.block = Object.freeze(checkBlock(block, 'BsrMatrix')) as readonly [number, number];
    this.dtype = checkDType(dtype);
    this.blockRowPtr = blockRowPtr;
    this.blockCol = blockCol;
    this.values = values;
    this.validate();
    adviseStreamedStorage(values);
  }

  /** Block rows and block columns of the padded matrix. */
  get blockGrid(): [number, number] {
    return [Math.ceil(this.shape[0] / this.block[0]), Math.ceil(this.shape[1] / this.block[1])];
  }

  get nblocks(): number {
    return this.blockCol.length;
  }

  /** Stored elements, padding zeros inside stored blocks included. */
  get nnz(): number {
    return this.values.length;
  }

  get bytes(): number {
    return this.blockRowPtr.byteLength + this.blockCol.byteLength + this.values.byteLength;
  }

  static fromDense(w: Tensor, opts: BsrOptions): BsrMatrix {
    if (!(w instanceof Tensor)) throw new SparsennError('ERR_ARG', 'toBsr: w must be a Tensor');
    const o = checkOptions<BsrOptions>(opts, ['block', 'dtype'], 'toBsr');
    const [br, bc] = checkBlock(o.block, 'toBsr');
    if (w.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `toBsr: w must be [N, K], got [${w.shape.join(', ')}]`);
    const dtype = o.dtype === undefined ? w.dtype : checkDType(o.dtype, 'toBsr: dtype');
    const [N, K] = w.shape as [number, number];
    const src = w.to(dtype).data;
    const isZero = dtype === 'f32' ? (v: number) => v === 0 : (v: number) => (v & 0x7fff) === 0;
    const NB = Math.ceil(N / br);
    const KB = Math.ceil(K / bc);
    // Pass 1: which blocks hold a nonzero.
    const kept = new Uint8Array(NB * KB);
    for (let n = 0; n < N; n++)
      for (let k = 0; k < K; k++) if (!isZero(src[n * K + k]!)) kept[Math.floor(n / br) * KB + Math.floor(k / bc)] = 1;
    let nblocks = 0;
    for (const f of kept) nblocks += f;
    const blockRowPtr = new Uint32Array(NB + 1);
    const blockCol = indexArrayFor(KB, nblocks);
    const values = dtype === 'f32' ? new Float32Array(nblocks * br * bc) : new Uint16Array(nblocks * br * bc);
    // Pass 2: copy kept blocks, leaving padding (outside [N, K]) as zeros.
    let j = 0;
    for (let rb = 0; rb < NB; rb++) {
      for (let cb = 0; cb < KB; cb++) {
        if (!kept[rb * KB + cb]) continue;
        blockCol[j] = cb;
        const base = j * br * bc;
        for (let r = 0; r < br; r++) {
          const n = rb * br + r;
          if (n >= N) break;
          for (let c = 0; c < bc; c++) {
            const k = cb * bc + c;
            if (k >= K) break;
            values[base + r * bc + c] = src[n * K + k]!;
          }
        }
        j++;
      }
      blockRowPtr[rb + 1] = j;
    }
    return new BsrMatrix([N, K], [br, bc], blockRowPtr, blockCol, values, dtype);
  }

  toDense(): Tensor {
    const [N, K] = this.shape;
    const [br, bc] = this.block;
    const out = this.dtype === 'f32' ? new Float32Array(N * K) : new Uint16Array(N * K);
    const NB = this.blockGrid[0];
    for (let rb = 0; rb < NB; rb++) {
      for (let j = this.blockRowPtr[rb]!; j < this.blockRowPtr[rb + 1]!; j++) {
        const k0 = this.blockCol[j]! * bc;
        for (let r = 0; r < br && rb * br + r < N; r++)
          for (let c = 0; c < bc && k0 + c < K; c++) out[(rb * br + r) * K + k0 + c] = this.values[j * br * bc + r * bc + c]!;
      }
    }
    return new Tensor(out, [N, K], this.dtype);
  }

  validate(): void {
    const [NB, KB] = this.blockGrid;
    validateCompressedRows('BSR', this.blockRowPtr, this.blockCol, NB, KB);
    if (KB > 65536 && this.blockCol instanceof Uint16Array) bad(`BSR: ${KB} block columns need Uint32Array indices`);
    checkValues('BSR', this.values, this.dtype, this.blockCol.length * this.block[0] * this.block[1]);
  }

  serialize(): Uint8Array {
    return writeContainer({
      format: 'bsr',
      dtype: this.dtype,
      header: [...this.shape, ...this.block],
      arrays: [this.blockRowPtr, this.blockCol, this.values],
    });
  }

  /** Reads a buffer written by serialize(); throws ERR_FORMAT on anything truncated, inconsistent or out of range. */
  static deserialize(bytes: Uint8Array): BsrMatrix {
    const c = readContainer(bytes, 'bsr', 4, [['u32'], ['u16', 'u32'], ['f32', 'u16']]);
    const [N, K, br, bc] = c.header as [number, number, number, number];
    const [ptr, col, values] = c.arrays as [Uint32Array, IndexArray, SparseValues];
    if (bytesPerElement(c.dtype) !== values.BYTES_PER_ELEMENT) bad(`BSR: values do not match dtype ${c.dtype}`);
    if (!(br >= 1 && bc >= 1 && br * bc <= MAX_BLOCK_ELEMENTS)) bad(`BSR: block [${br}, ${bc}] is not valid`);
    return new BsrMatrix([N, K], [br, bc], ptr, col, values, c.dtype);
  }
}

function bad(what: string): never {
  throw new SparsennError('ERR_FORMAT', what);
}

/** Public: compress a dense [N, K] weight into block-sparse rows with the given block size. */
export function toBsr(w: Tensor, opts: BsrOptions): BsrMatrix {
  return BsrMatrix.fromDense(w, opts);
}
