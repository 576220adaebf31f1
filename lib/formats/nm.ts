/**
 * N:M structured sparsity (2:4 by default; also 1:4, 2:8, 4:8 and any n <= m with m a
 * power of two from 2 to 32): in every run of m consecutive inputs of an output row (a
 * "group", along in_features), at most n values are nonzero. That is the pattern NVIDIA's
 * sparse tensor cores run, and it halves (2:4) the bytes and multiply-adds of a weight.
 *
 * Layout of W [N, K]:
 *   groups  = ceil(K / m). When K is not a multiple of m, the last group of every row is
 *           padded with zero columns up to m; positions in that padding may only hold zeros.
 *   values  [N, groups * n], row-major, in the stored dtype (Float32Array, or Uint16Array of
 *           bf16 / f16 bits). Each group stores exactly n values, in increasing position order
 *           when built by fromDense; a group with fewer than n nonzeros stores explicit zeros.
 *   meta    Uint32Array [N, metaWords]: each stored value's position in its group, as
 *           bits = log2(m) bits, packed LSB-first into one bit stream per row (value i of a
 *           row occupies bits [i * bits, (i + 1) * bits)), padded with zero bits to whole u32
 *           words. metaWords = ceil(groups * n * bits / 32). For 2:4 a word holds 16 positions
 *           = 8 groups = 32 inputs, so a SIMD kernel expands one word into 16 column indices
 *           with a shift, an and and an add (see native/cpu/spmm_nm_avx512.cc). 3-bit positions
 *           (m = 8) may straddle two words.
 */
import { adviseStreamedStorage } from '../backend/huge_pages';
import { bytesPerElement, checkDType, type DType } from '../dtype';
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { readContainer, writeContainer } from './serialize';
import type { SparseMatrix, SparseValues } from './types';

export interface NmOptions {
  /** Values kept per group (default 2). */
  n?: number;
  /** Group size, a power of two from 2 to 32 (default 4). */
  m?: number;
  /** Element type of the stored values; defaults to the dense tensor's dtype. */
  dtype?: DType;
}

/** The derived sizes of an N:M layout for a [N, K] weight. */
export interface NmGeometry {
  bits: number;
  groups: number;
  /** Stored values per row: groups * n. */
  perRow: number;
  metaWords: number;
}

function bad(what: string): never {
  throw new SparsennError('ERR_FORMAT', what);
}

/** Checks n and m (ERR_ARG, or `code` for a buffer that claims them) and returns the layout sizes. */
export function nmGeometry(K: number, n: unknown, m: unknown, code: 'ERR_ARG' | 'ERR_FORMAT' = 'ERR_ARG'): NmGeometry {
  if (typeof m !== 'number' || !Number.isInteger(m) || m < 2 || m > 32 || (m & (m - 1)) !== 0)
    throw new SparsennError(code, `N:M: m must be a power of two from 2 to 32 (positions are packed in log2(m) bits), got ${String(m)}`);
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > m)
    throw new SparsennError(code, `N:M: n must be an integer in [1, m=${m}], got ${String(n)}`);
  const bits = Math.log2(m);
  const groups = Math.ceil(K / m);
  const perRow = groups * n;
  return { bits, groups, perRow, metaWords: Math.ceil((perRow * bits) / 32) };
}

function checkMatrixShape(shape: unknown): [number, number] {
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new SparsennError('ERR_SHAPE', 'NmMatrix: shape must be [N, K] of non-negative integers');
  return [shape[0] as number, shape[1] as number];
}

export class NmMatrix implements SparseMatrix {
  readonly format = 'nm' as const;
  readonly shape: readonly [number, number];
  readonly dtype: DType;
  readonly n: number;
  readonly m: number;
  readonly values: SparseValues;
  readonly meta: Uint32Array;
  /** log2(m): bits per stored position. */
  readonly bits: number;
  /** Groups per row: ceil(K / m). */
  readonly groups: number;
  /** u32 metadata words per row. */
  readonly metaWords: number;

  /** Wraps existing arrays (not copied) after validating them; throws ERR_FORMAT when inconsistent. */
  constructor(shape: readonly [number, number], n: number, m: number, values: SparseValues, meta: Uint32Array, dtype: DType) {
    this.shape = Object.freeze(checkMatrixShape(shape)) as readonly [number, number];
    const g = nmGeometry(this.shape[1], n, m);
    this.n = n;
    this.m = m;
    this.bits = g.bits;
    this.groups = g.groups;
    this.metaWords = g.metaWords;
    this.dtype = checkDType(dtype);
    this.values = values;
    this.meta = meta;
    this.validate();
    adviseStreamedStorage(values, meta);
  }

  /** Stored values, explicit zeros included: N * groups * n. */
  get nnz(): number {
    return this.shape[0] * this.groups * this.n;
  }

  get bytes(): number {
    return this.values.byteLength + this.meta.byteLength;
  }

  /** Position (0 .. m-1) inside its group of stored value i of row `row`. */
  position(row: number, i: number): number {
    const bit = i * this.bits;
    const base = row * this.metaWords;
    const word = bit >>> 5;
    const off = bit & 31;
    let p = this.meta[base + word]! >>> off;
    if (off + this.bits > 32) p |= this.meta[base + word + 1]! << (32 - off);
    return p & (this.m - 1);
  }

  /**
   * Compresses a dense [N, K] tensor whose every group of m inputs has at most n nonzeros
   * (exact zeros, found in the stored dtype); throws ERR_PATTERN naming the first group with more.
   */
  static fromDense(w: Tensor, opts?: NmOptions): NmMatrix {
    if (!(w instanceof Tensor)) throw new SparsennError('ERR_ARG', 'toNm: w must be a Tensor');
    const o = checkOptions<NmOptions>(opts, ['n', 'm', 'dtype'], 'toNm');
    if (w.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `toNm: w must be [N, K], got [${w.shape.join(', ')}]`);
    const n = o.n ?? 2;
    const m = o.m ?? 4;
    const dtype = o.dtype === undefined ? w.dtype : checkDType(o.dtype, 'toNm: dtype');
    const [N, K] = w.shape as [number, number];
    const { bits, groups, perRow, metaWords } = nmGeometry(K, n, m);
    const src = w.to(dtype).data;
    const isZero = dtype === 'f32' ? (v: number) => v === 0 : (v: number) => (v & 0x7fff) === 0;
    const values = dtype === 'f32' ? new Float32Array(N * perRow) : new Uint16Array(N * perRow);
    const meta = new Uint32Array(N * metaWords);
    const used = new Uint8Array(m);
    const kept: number[] = [];
    for (let r = 0; r < N; r++) {
      for (let g = 0; g < groups; g++) {
        const k0 = g * m;
        const width = Math.min(m, K - k0); // valid columns; the rest is zero padding
        kept.length = 0;
        used.fill(0);
        for (let p = 0; p < width; p++) {
          if (isZero(src[r * K + k0 + p]!)) continue;
          kept.push(p);
          used[p] = 1;
        }
        if (kept.length > n)
          throw new SparsennError(
            'ERR_PATTERN',
            `toNm: row ${r}, group ${g} (columns ${k0}..${k0 + width - 1}) has ${kept.length} nonzeros; ${n}:${m} allows at most ${n}`,
          );
        // Too few nonzeros: store explicit zeros at unused positions (real columns first).
        for (let p = 0; kept.length < n; p++) if (!used[p]) kept.push(p);
        kept.sort((a, b) => a - b);
        for (let j = 0; j < n; j++) {
          const p = kept[j]!;
          const i = g * n + j;
          values[r * perRow + i] = p < width ? src[r * K + k0 + p]! : 0;
          const bit = i * bits;
          const word = r * metaWords + (bit >>> 5);
          const off = bit & 31;
          meta[word] = (meta[word]! | (p << off)) >>> 0;
          if (off + bits > 32) meta[word + 1] = (meta[word + 1]! | (p >>> (32 - off))) >>> 0;
        }
      }
    }
    return new NmMatrix([N, K], n, m, values, meta, dtype);
  }

  toDense(): Tensor {
    const [N, K] = this.shape;
    const out = this.dtype === 'f32' ? new Float32Array(N * K) : new Uint16Array(N * K);
    const perRow = this.groups * this.n;
    for (let r = 0; r < N; r++)
      for (let i = 0; i < perRow; i++) {
        const k = Math.floor(i / this.n) * this.m + this.position(r, i);
        if (k < K) out[r * K + k] = this.values[r * perRow + i]!;
      }
    return new Tensor(out, [N, K], this.dtype);
  }

  /**
   * Checks array types and lengths, that positions within each group are distinct, that
   * positions in the zero padding past K hold zeros, and that unused metadata bits are zero.
   */
  validate(): void {
    const [N, K] = this.shape;
    const perRow = this.groups * this.n;
    const want = this.dtype === 'f32' ? Float32Array : Uint16Array;
    if (!(this.values instanceof want)) bad(`N:M: ${this.dtype} values must be a ${want.name}`);
    if (this.values.length !== N * perRow) bad(`N:M: ${this.values.length} values, expected ${N * perRow} (${N} rows x ${perRow})`);
    if (!(this.meta instanceof Uint32Array)) bad('N:M: metadata must be a Uint32Array');
    if (this.meta.length !== N * this.metaWords)
      bad(`N:M: ${this.meta.length} metadata words, expected ${N * this.metaWords} (${N} rows x ${this.metaWords})`);
    const isZero = this.dtype === 'f32' ? (v: number) => v === 0 : (v: number) => (v & 0x7fff) === 0;
    const usedBits = perRow * this.bits;
    const tailBits = usedBits & 31;
    for (let r = 0; r < N; r++) {
      for (let g = 0; g < this.groups; g++) {
        const width = Math.min(this.m, K - g * this.m);
        let seen = 0;
        for (let j = 0; j < this.n; j++) {
          const i = g * this.n + j;
          const p = this.position(r, i);
          if (seen & (1 << p)) bad(`N:M: row ${r}, group ${g} stores position ${p} twice`);
          seen |= 1 << p;
          if (p >= width && !isZero(this.values[r * perRow + i]!))
            bad(`N:M: row ${r}, group ${g} stores a nonzero at position ${p}, past the last column (K = ${K})`);
        }
      }
      if (tailBits !== 0 && this.meta[r * this.metaWords + this.metaWords - 1]! >>> tailBits !== 0)
        bad(`N:M: row ${r} has nonzero padding bits after its last position`);
    }
  }

  serialize(): Uint8Array {
    return writeContainer({
      format: 'nm',
      dtype: this.dtype,
      header: [this.shape[0], this.shape[1], this.n, this.m],
      arrays: [this.values, this.meta],
    });
  }

  /** Reads a buffer written by serialize(); throws ERR_FORMAT on anything truncated, inconsistent or out of range. */
  static deserialize(bytes: Uint8Array): NmMatrix {
    const c = readContainer(bytes, 'nm', 4, [['f32', 'u16'], ['u32']]);
    const [N, K, n, m] = c.header as [number, number, number, number];
    const [values, meta] = c.arrays as [SparseValues, Uint32Array];
    if (bytesPerElement(c.dtype) !== values.BYTES_PER_ELEMENT) bad(`N:M: values do not match dtype ${c.dtype}`);
    nmGeometry(K, n, m, 'ERR_FORMAT');
    return new NmMatrix([N, K], n, m, values, meta, c.dtype);
  }
}

/** Public: compress a dense [N, K] weight that already follows an N:M pattern (default 2:4). */
export function toNm(w: Tensor, opts?: NmOptions): NmMatrix {
  return NmMatrix.fromDense(w, opts);
}
