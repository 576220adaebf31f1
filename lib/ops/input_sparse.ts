/**
 * Sparse activations: when most inputs are zero (ReLU-family models, CoreInfer's core
 * neurons), y = Σ over nonzero k of x[k] · W[:, k] reads only the columns of W that matter.
 * Reading a column of a row-major [N, K] weight is a strided gather, so this path keeps W
 * transposed (Wt [K, N], each input's column contiguous): that is the prepared form.
 *
 * Choices, and what they cost:
 *  - `prepareInputSparse(w)` makes the transposed copy explicitly: one pass over W and a
 *    second copy of its bytes. Pass the result to matmul as `w`; it always takes this path
 *    (with a dense x it still reads every column, at the same bandwidth as dense).
 *  - `matmul(x, w, { inputSparse: true })` with a dense Tensor `w` transposes on first use and
 *    caches the copy per Tensor in a WeakMap (freed with the Tensor). The cache assumes the
 *    weight's data is not modified afterwards.
 *  - `inputSparse: 'auto'` takes this path only when x has at most AUTO_MAX_ROWS rows and more
 *    than AUTO_ZERO_FRACTION of its entries are zero; otherwise dense. It is opt-in, not the
 *    default, because its first use doubles the weight's memory.
 */
import { adviseStreamedStorage } from '../backend/huge_pages';
import { SparsennError } from '../errors';
import { Tensor } from '../tensor';

/** Above this fraction of zero inputs, 'auto' uses the sparse-activation path. */
export const AUTO_ZERO_FRACTION = 0.7;
/** 'auto' considers only decode-sized inputs: with many rows the union of nonzeros is not sparse. */
export const AUTO_MAX_ROWS = 16;

export type InputSparseOption = boolean | 'auto';

export class InputSparseWeight {
  readonly kind = 'input-sparse' as const;
  /** [N, K]: the shape of the weight it stands for (what matmul checks x against). */
  readonly shape: readonly [number, number];
  /** Wt [K, N], row k = column k of W, in W's dtype. */
  readonly wt: Tensor;

  constructor(w: Tensor) {
    if (!(w instanceof Tensor)) throw new SparsennError('ERR_ARG', 'prepareInputSparse: w must be a Tensor');
    if (w.shape.length !== 2)
      throw new SparsennError('ERR_SHAPE', `prepareInputSparse: w must be [N, K], got [${w.shape.join(', ')}]`);
    const [N, K] = w.shape as [number, number];
    const src = w.data;
    const out = w.dtype === 'f32' ? new Float32Array(N * K) : new Uint16Array(N * K);
    // Blocked transpose: both sides touch whole cache lines.
    const B = 32;
    for (let n0 = 0; n0 < N; n0 += B)
      for (let k0 = 0; k0 < K; k0 += B) {
        const n1 = Math.min(N, n0 + B);
        const k1 = Math.min(K, k0 + B);
        for (let n = n0; n < n1; n++) for (let k = k0; k < k1; k++) out[k * N + n] = src[n * K + k]!;
      }
    this.shape = Object.freeze([N, K]) as readonly [number, number];
    this.wt = new Tensor(out, [K, N], w.dtype);
    adviseStreamedStorage(out);
  }

  get dtype() {
    return this.wt.dtype;
  }

  /** Storage of the transposed copy. */
  get bytes(): number {
    return this.wt.bytes;
  }
}

/** Public: the transposed form of a dense [N, K] weight for sparse-activation matmul. */
export function prepareInputSparse(w: Tensor): InputSparseWeight {
  return new InputSparseWeight(w);
}

const cache = new WeakMap<Tensor, InputSparseWeight>();

function cached(w: Tensor): InputSparseWeight {
  let p = cache.get(w);
  if (!p) {
    p = new InputSparseWeight(w);
    cache.set(w, p);
  }
  return p;
}

/** Fraction of exact zeros in x. */
export function zeroFraction(x: Float32Array): number {
  if (x.length === 0) return 0;
  let zeros = 0;
  for (let i = 0; i < x.length; i++) if (x[i] === 0) zeros++;
  return zeros / x.length;
}

/**
 * What matmul should multiply by: the prepared form when the option (or a prepared `w`) asks
 * for the sparse-activation path, else `w` unchanged. x is an already-checked [M, K] f32 tensor.
 */
export function resolveInputSparse<W>(x: Tensor, w: W, option: unknown): W | InputSparseWeight {
  if (option !== undefined && option !== true && option !== false && option !== 'auto')
    throw new SparsennError('ERR_ARG', `matmul: inputSparse must be true, false or 'auto', got ${String(option)}`);
  if (!(w instanceof Tensor) || option === undefined || option === false) return w;
  if (option === 'auto') {
    const M = x.shape[0]!;
    if (M > AUTO_MAX_ROWS || zeroFraction(x.data as Float32Array) <= AUTO_ZERO_FRACTION) return w;
  }
  if (w.shape.length !== 2) return w; // matmul reports the shape error
  return cached(w);
}
