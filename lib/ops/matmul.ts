/** matmul / matmulAsync: Y[M,N] = X[M,K] · Wᵀ, the op every Linear layer calls. */
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { Backend, BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import { BitmapMatrix } from '../formats/bitmap';
import { BsrMatrix } from '../formats/bsr';
import { CsrMatrix } from '../formats/csr';
import { NmMatrix } from '../formats/nm';
import { isSparseMatrix, type SparseMatrix } from '../formats/types';
import { checkOptions } from '../options';
import { isDetached, Tensor } from '../tensor';
import { InputSparseWeight, resolveInputSparse, type InputSparseOption } from './input_sparse';

export interface MatmulOptions {
  /** Which backend runs the op; 'auto' (default) picks the fastest available. */
  backend?: BackendChoice;
  /**
   * Sparse activations (lib/ops/input_sparse.ts): true skips x's zero inputs using a transposed
   * copy of a dense w (made on first use, cached per Tensor); 'auto' does so only when x has few
   * rows and > 70% zeros. Default false. A w from prepareInputSparse() always takes this path.
   */
  inputSparse?: InputSparseOption;
}

const MATMUL_OPTIONS = ['backend', 'inputSparse'] as const;

function checkTensor(t: unknown, what: string): Tensor {
  if (!(t instanceof Tensor)) throw new SparsennError('ERR_ARG', `matmul: ${what} must be a Tensor`);
  const size = t.shape.reduce((a, b) => a * b, 1);
  if (isDetached(t.data) && size > 0)
    throw new SparsennError('ERR_DETACHED', `matmul: ${what}'s data is detached (its buffer was transferred)`);
  if (t.data.length !== size)
    throw new SparsennError('ERR_SHAPE', `matmul: ${what}'s data no longer matches its shape`);
  return t;
}

function prepare(x: unknown, w: unknown, opts: unknown) {
  const o = checkOptions<MatmulOptions>(opts, MATMUL_OPTIONS, 'matmul');
  const backend = selectBackend(checkBackendChoice(o.backend));
  const xt = checkTensor(x, 'x');
  const wt = isSparseMatrix(w) || w instanceof InputSparseWeight ? w : checkTensor(w, 'w');
  if (xt.dtype !== 'f32') throw new SparsennError('ERR_DTYPE', `matmul: x must be f32, got ${xt.dtype}`);
  if (xt.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `matmul: x must be [M, K], got [${xt.shape.join(', ')}]`);
  if (wt.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `matmul: w must be [N, K], got [${wt.shape.join(', ')}]`);
  const [M, K] = xt.shape as [number, number];
  const [N, Kw] = wt.shape as [number, number];
  if (K !== Kw)
    throw new SparsennError('ERR_SHAPE', `matmul: x is [${M}, ${K}] but w is [${N}, ${Kw}]; w must be [N, ${K}]`);
  const y = new Float32Array(M * N);
  return { backend, xt, wt: resolveInputSparse(xt, wt, o.inputSparse), y, M, N };
}

function unsupported(w: SparseMatrix): never {
  throw new SparsennError('ERR_ARG', `matmul: w of format '${w.format}' is not a sparse matrix this build can multiply`);
}

/** Runs the backend kernel for w's format (each sparse format adds its case here). */
function dispatch(backend: Backend, x: Tensor, w: Tensor | SparseMatrix | InputSparseWeight, y: Float32Array): void {
  if (w instanceof Tensor) return backend.matmul(x, w, y);
  if (w instanceof InputSparseWeight) return backend.matmulInputSparse(x, w.wt, y);
  switch (w.format) {
    case 'csr':
      return w instanceof CsrMatrix ? backend.matmulCsr(x, w, y) : unsupported(w);
    case 'bsr':
      return w instanceof BsrMatrix ? backend.matmulBsr(x, w, y) : unsupported(w);
    case 'nm':
      return w instanceof NmMatrix ? backend.matmulNm(x, w, y) : unsupported(w);
    case 'bitmap':
      return w instanceof BitmapMatrix ? backend.matmulBitmap(x, w, y) : unsupported(w);
    default:
      return unsupported(w);
  }
}

function dispatchAsync(
  backend: Backend,
  x: Tensor,
  w: Tensor | SparseMatrix | InputSparseWeight,
  y: Float32Array,
): Promise<void> {
  if (w instanceof Tensor) return backend.matmulAsync(x, w, y);
  if (w instanceof InputSparseWeight) return backend.matmulInputSparseAsync(x, w.wt, y);
  switch (w.format) {
    case 'csr':
      return w instanceof CsrMatrix ? backend.matmulCsrAsync(x, w, y) : unsupported(w);
    case 'bsr':
      return w instanceof BsrMatrix ? backend.matmulBsrAsync(x, w, y) : unsupported(w);
    case 'nm':
      return w instanceof NmMatrix ? backend.matmulNmAsync(x, w, y) : unsupported(w);
    case 'bitmap':
      return w instanceof BitmapMatrix ? backend.matmulBitmapAsync(x, w, y) : unsupported(w);
    default:
      return unsupported(w);
  }
}

/**
 * Synchronous matmul: blocks the calling thread until done. Prefer matmulAsync in servers.
 * `w` is a dense [N, K] Tensor or any sparse matrix (toCsr, toBsr, ...).
 */
export function matmul(x: Tensor, w: Tensor | SparseMatrix | InputSparseWeight, opts?: MatmulOptions): Tensor {
  const { backend, xt, wt, y, M, N } = prepare(x, w, opts);
  if (y.length > 0) dispatch(backend, xt, wt, y);
  return new Tensor(y, [M, N]);
}

/** matmul off the main thread (native) or in event-loop-friendly slices (js). */
export async function matmulAsync(
  x: Tensor,
  w: Tensor | SparseMatrix | InputSparseWeight,
  opts?: MatmulOptions,
): Promise<Tensor> {
  const { backend, xt, wt, y, M, N } = prepare(x, w, opts);
  if (y.length > 0) await dispatchAsync(backend, xt, wt, y);
  return new Tensor(y, [M, N]);
}
