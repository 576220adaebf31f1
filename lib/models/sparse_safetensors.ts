/**
 * Sparse Linear weights inside a safetensors file. A dense weight is the usual tensor
 * `<name>.weight`; a sparse one is stored as its component arrays, exactly as the format
 * holds them in memory (so a load gives back the same arrays, bit for bit), plus one
 * `__metadata__` entry describing it. Shapes are always the Linear layout [out, in]
 * (also for GPT-2, whose dense Conv1D weights are stored transposed).
 *
 *   __metadata__["sparsenn.sparse.<name>.weight"] = JSON string:
 *       {"format":"csr","shape":[N,K],"dtype":"f32"}
 *       {"format":"nm", "shape":[N,K],"dtype":"bf16","n":2,"m":4}
 *       {"format":"bsr","shape":[N,K],"dtype":"f16","block":[br,bc]}
 *       {"format":"bitmap","shape":[N,K],"dtype":"f32"}
 *   __metadata__["sparsenn.version"] = "1" (layout version of these entries)
 *
 *   CSR  <name>.weight.csr.row_ptr        U32        [N + 1]
 *        <name>.weight.csr.col_idx        U16 | U32  [nnz]      (U16 only when K <= 65536)
 *        <name>.weight.csr.values         F32 | BF16 | F16 [nnz]
 *   N:M  <name>.weight.nm.values          F32 | BF16 | F16 [N, ceil(K/m)·n]
 *        <name>.weight.nm.meta            U32        [N, metaWords]  (positions, log2(m) bits each; see formats/nm.ts)
 *   BSR  <name>.weight.bsr.block_row_ptr  U32        [ceil(N/br) + 1]
 *        <name>.weight.bsr.block_col      U16 | U32  [blocks]
 *        <name>.weight.bsr.values         F32 | BF16 | F16 [blocks, br, bc]
 *   bitmap <name>.weight.bitmap.masks    U16        [N, ceil(K/16)]  (bit i of mask g keeps column 16g + i)
 *        <name>.weight.bitmap.row_ptr     U32        [N + 1]
 *        <name>.weight.bitmap.values      F32 | BF16 | F16 [nnz]
 *
 * Reading is for untrusted files: the description is parsed and checked against the
 * config's shape, every component's dtype and shape is checked against what the
 * description implies before anything is allocated (the header parser has already checked
 * each byte range against the file size), and the assembled matrix is validated. Any
 * problem is ERR_MODEL_FILE naming the weight.
 */
import type { DType } from '../dtype';
import { SparsennError } from '../errors';
import { BitmapMatrix, bitmapGroups } from '../formats/bitmap';
import { BsrMatrix, MAX_BLOCK_ELEMENTS } from '../formats/bsr';
import { CsrMatrix, type IndexArray } from '../formats/csr';
import { NmMatrix, nmGeometry } from '../formats/nm';
import { isSparseMatrix, type SparseMatrix, type SparseValues } from '../formats/types';
import { Tensor } from '../tensor';
import { modelFileError } from './model_file';
import type { RawArray, RawArrayDType, SafetensorsEntry } from './safetensors';

export const SPARSE_LAYOUT_VERSION = '1';
export const SPARSE_VERSION_KEY = 'sparsenn.version';
const SPEC_PREFIX = 'sparsenn.sparse.';

export function sparseSpecKey(weight: string): string {
  return SPEC_PREFIX + weight;
}

const VALUE_DTYPE: Record<DType, RawArrayDType> = { f32: 'F32', bf16: 'BF16', f16: 'F16' };

function indexDType(a: IndexArray): RawArrayDType {
  return a instanceof Uint16Array ? 'U16' : 'U32';
}

/** The tensors and the metadata entry that store sparse weight `weight` (e.g. "model.layers.0.mlp.up_proj.weight"). */
export function sparseWeightTensors(weight: string, w: SparseMatrix): { tensors: Record<string, RawArray>; spec: [string, string] } {
  const [N, K] = w.shape;
  const vals = (data: SparseValues, shape: number[]): RawArray => ({ dtype: VALUE_DTYPE[w.dtype], shape, data });
  const base = { shape: [N, K], dtype: w.dtype };
  let tensors: Record<string, RawArray>;
  let spec: Record<string, unknown>;
  if (w instanceof CsrMatrix) {
    spec = { format: 'csr', ...base };
    tensors = {
      [`${weight}.csr.row_ptr`]: { dtype: 'U32', shape: [N + 1], data: w.rowPtr },
      [`${weight}.csr.col_idx`]: { dtype: indexDType(w.colIdx), shape: [w.colIdx.length], data: w.colIdx },
      [`${weight}.csr.values`]: vals(w.values, [w.values.length]),
    };
  } else if (w instanceof NmMatrix) {
    spec = { format: 'nm', ...base, n: w.n, m: w.m };
    tensors = {
      [`${weight}.nm.values`]: vals(w.values, [N, w.groups * w.n]),
      [`${weight}.nm.meta`]: { dtype: 'U32', shape: [N, w.metaWords], data: w.meta },
    };
  } else if (w instanceof BsrMatrix) {
    const [br, bc] = w.block;
    spec = { format: 'bsr', ...base, block: [br, bc] };
    tensors = {
      [`${weight}.bsr.block_row_ptr`]: { dtype: 'U32', shape: [w.blockRowPtr.length], data: w.blockRowPtr },
      [`${weight}.bsr.block_col`]: { dtype: indexDType(w.blockCol), shape: [w.blockCol.length], data: w.blockCol },
      [`${weight}.bsr.values`]: vals(w.values, [w.nblocks, br, bc]),
    };
  } else if (w instanceof BitmapMatrix) {
    spec = { format: 'bitmap', ...base };
    tensors = {
      [`${weight}.bitmap.masks`]: { dtype: 'U16', shape: [N, w.groups], data: w.masks },
      [`${weight}.bitmap.row_ptr`]: { dtype: 'U32', shape: [N + 1], data: w.rowPtr },
      [`${weight}.bitmap.values`]: vals(w.values, [w.values.length]),
    };
  } else throw new SparsennError('ERR_ARG', `saveModel: ${weight} has a sparse format (${String((w as { format?: unknown }).format)}) that cannot be saved`);
  return { tensors, spec: [sparseSpecKey(weight), JSON.stringify(spec)] };
}

/** What the reader needs from the weight files: header entries, raw reads and the metadata. */
export interface SparseSource {
  /** The metadata value stored under `key`, if any. */
  metadata(key: string): string | undefined;
  /** The header entry of a tensor (dtype, shape; its byte range already checked against the file). */
  entry(name: string): SafetensorsEntry | undefined;
  readRaw(name: string): Promise<RawArray>;
  /** File name used in error messages. */
  readonly path: string;
}

type Spec =
  | { format: 'csr'; dtype: DType }
  | { format: 'nm'; dtype: DType; n: number; m: number }
  | { format: 'bsr'; dtype: DType; block: [number, number] }
  | { format: 'bitmap'; dtype: DType };

function parseSpec(text: string, shape: readonly [number, number], bad: (p: string) => SparsennError): Spec {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw bad('its sparse description is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('its sparse description must be a JSON object');
  const o = v as Record<string, unknown>;
  const s = o.shape;
  if (!Array.isArray(s) || s.length !== 2 || s[0] !== shape[0] || s[1] !== shape[1])
    throw bad(`sparse shape ${JSON.stringify(s)} does not match the config's [${shape.join(', ')}]`);
  const dtype = o.dtype;
  if (dtype !== 'f32' && dtype !== 'bf16' && dtype !== 'f16') throw bad(`sparse dtype ${JSON.stringify(dtype)} is not f32, bf16 or f16`);
  const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 1;
  switch (o.format) {
    case 'csr':
      return { format: 'csr', dtype };
    case 'nm':
      if (!isInt(o.n) || !isInt(o.m)) throw bad('N:M description needs integer n and m');
      return { format: 'nm', dtype, n: o.n, m: o.m };
    case 'bsr': {
      const b = o.block;
      if (!Array.isArray(b) || b.length !== 2 || !isInt(b[0]) || !isInt(b[1]) || b[0] * b[1] > MAX_BLOCK_ELEMENTS)
        throw bad(`BSR block ${JSON.stringify(b)} must be [rows, cols] of positive integers with rows·cols <= ${MAX_BLOCK_ELEMENTS}`);
      return { format: 'bsr', dtype, block: [b[0], b[1]] };
    }
    case 'bitmap':
      return { format: 'bitmap', dtype };
    default:
      throw bad(`sparse format ${JSON.stringify(o.format)} is not csr, nm, bsr or bitmap`);
  }
}

/**
 * Reads the sparse weight `weight` of Linear shape [N, K], or returns undefined when the
 * files hold no sparse description for it (then it is a dense tensor).
 */
export async function readSparseWeight(src: SparseSource, weight: string, shape: readonly [number, number]): Promise<SparseMatrix | undefined> {
  const text = src.metadata(sparseSpecKey(weight));
  if (text === undefined) return undefined;
  const bad = (problem: string) => modelFileError(src.path, `sparse weight ${JSON.stringify(weight)}: ${problem}`);
  if (src.entry(weight)) throw bad('is stored both dense and sparse');
  const version = src.metadata(SPARSE_VERSION_KEY);
  if (version !== SPARSE_LAYOUT_VERSION)
    throw bad(`was written with sparse layout version ${JSON.stringify(version ?? null)}; this build reads version ${SPARSE_LAYOUT_VERSION} (a newer sparsenn may read it)`);
  const spec = parseSpec(text, shape, bad);
  const [N, K] = shape;
  const valueDType = VALUE_DTYPE[spec.dtype];

  // Every component's dtype and shape is checked before it is read.
  const component = (suffix: string, dtypes: readonly RawArrayDType[], want: readonly (number | null)[]): SafetensorsEntry => {
    const name = `${weight}.${spec.format}.${suffix}`;
    const e = src.entry(name);
    if (!e) throw bad(`component ${JSON.stringify(name)} is missing`);
    if (!dtypes.includes(e.dtype as RawArrayDType)) throw bad(`component ${JSON.stringify(name)} has dtype ${e.dtype}, expected ${dtypes.join(' or ')}`);
    if (e.shape.length !== want.length || want.some((d, i) => d !== null && d !== e.shape[i]))
      throw bad(`component ${JSON.stringify(name)} has shape [${e.shape.join(', ')}], expected [${want.map((d) => d ?? '*').join(', ')}]`);
    return e;
  };
  const read = async (e: SafetensorsEntry) => (await src.readRaw(e.name)).data;
  const index = ['U16', 'U32'] as const;

  try {
    switch (spec.format) {
      case 'csr': {
        const ptr = component('row_ptr', ['U32'], [N + 1]);
        const col = component('col_idx', index, [null]);
        const nnz = col.shape[0]!;
        if (nnz > N * K) throw bad(`${nnz} stored values do not fit a [${N}, ${K}] matrix`);
        const vals = component('values', [valueDType], [nnz]);
        return new CsrMatrix([N, K], (await read(ptr)) as Uint32Array, (await read(col)) as IndexArray, (await read(vals)) as SparseValues, spec.dtype);
      }
      case 'nm': {
        const g = nmGeometry(K, spec.n, spec.m, 'ERR_FORMAT');
        const vals = component('values', [valueDType], [N, g.perRow]);
        const meta = component('meta', ['U32'], [N, g.metaWords]);
        return new NmMatrix([N, K], spec.n, spec.m, (await read(vals)) as SparseValues, (await read(meta)) as Uint32Array, spec.dtype);
      }
      case 'bsr': {
        const [br, bc] = spec.block;
        const NB = Math.ceil(N / br);
        const KB = Math.ceil(K / bc);
        const ptr = component('block_row_ptr', ['U32'], [NB + 1]);
        const col = component('block_col', index, [null]);
        const blocks = col.shape[0]!;
        if (blocks > NB * KB) throw bad(`${blocks} blocks do not fit a ${NB} x ${KB} block grid`);
        const vals = component('values', [valueDType], [blocks, br, bc]);
        return new BsrMatrix([N, K], [br, bc], (await read(ptr)) as Uint32Array, (await read(col)) as IndexArray, (await read(vals)) as SparseValues, spec.dtype);
      }
      case 'bitmap': {
        const masks = component('masks', ['U16'], [N, bitmapGroups(K)]);
        const ptr = component('row_ptr', ['U32'], [N + 1]);
        const vals = component('values', [valueDType], [null]);
        if (vals.shape[0]! > N * K) throw bad(`${vals.shape[0]} stored values do not fit a [${N}, ${K}] matrix`);
        return new BitmapMatrix([N, K], (await read(masks)) as Uint16Array, (await read(ptr)) as Uint32Array, (await read(vals)) as SparseValues, spec.dtype);
      }
    }
  } catch (e) {
    // The format's own validation (ERR_FORMAT / ERR_SHAPE) becomes a file error naming the weight.
    if (e instanceof SparsennError && e.code !== 'ERR_MODEL_FILE') throw bad(e.message);
    throw e;
  }
}

/** The same sparse matrix with its values in `dtype` (for loadModel's dtype option). */
export function castSparse(w: SparseMatrix, dtype: DType): SparseMatrix {
  if (w.dtype === dtype) return w;
  const cast = (v: SparseValues) => new Tensor(v, [v.length], w.dtype).to(dtype).data;
  if (w instanceof CsrMatrix) return new CsrMatrix(w.shape, w.rowPtr, w.colIdx, cast(w.values), dtype);
  if (w instanceof NmMatrix) return new NmMatrix(w.shape, w.n, w.m, cast(w.values), w.meta, dtype);
  if (w instanceof BsrMatrix) return new BsrMatrix(w.shape, w.block, w.blockRowPtr, w.blockCol, cast(w.values), dtype);
  if (w instanceof BitmapMatrix) return new BitmapMatrix(w.shape, w.masks, w.rowPtr, cast(w.values), dtype);
  if (!isSparseMatrix(w)) throw new SparsennError('ERR_ARG', 'castSparse: not a sparse matrix');
  throw new SparsennError('ERR_ARG', `castSparse: format ${w.format} is not supported`);
}
