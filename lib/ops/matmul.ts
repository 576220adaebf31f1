/** matmul / matmulAsync: Y[M,N] = X[M,K] · Wᵀ, the op every Linear layer calls. */
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import { isDetached, Tensor } from '../tensor';

export interface MatmulOptions {
  /** Which backend runs the op; 'auto' (default) picks the fastest available. */
  backend?: BackendChoice;
}

const MATMUL_OPTIONS = ['backend'] as const;

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
  const wt = checkTensor(w, 'w');
  if (xt.dtype !== 'f32') throw new SparsennError('ERR_DTYPE', `matmul: x must be f32, got ${xt.dtype}`);
  if (xt.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `matmul: x must be [M, K], got [${xt.shape.join(', ')}]`);
  if (wt.shape.length !== 2) throw new SparsennError('ERR_SHAPE', `matmul: w must be [N, K], got [${wt.shape.join(', ')}]`);
  const [M, K] = xt.shape as [number, number];
  const [N, Kw] = wt.shape as [number, number];
  if (K !== Kw)
    throw new SparsennError('ERR_SHAPE', `matmul: x is [${M}, ${K}] but w is [${N}, ${Kw}]; w must be [N, ${K}]`);
  const y = new Float32Array(M * N);
  return { backend, xt, wt, y, M, N };
}

/** Synchronous matmul: blocks the calling thread until done. Prefer matmulAsync in servers. */
export function matmul(x: Tensor, w: Tensor, opts?: MatmulOptions): Tensor {
  const { backend, xt, wt, y, M, N } = prepare(x, w, opts);
  if (y.length > 0) backend.matmul(xt, wt, y);
  return new Tensor(y, [M, N]);
}

/** matmul off the main thread (native) or in event-loop-friendly slices (js). */
export async function matmulAsync(x: Tensor, w: Tensor, opts?: MatmulOptions): Promise<Tensor> {
  const { backend, xt, wt, y, M, N } = prepare(x, w, opts);
  if (y.length > 0) await backend.matmulAsync(xt, wt, y);
  return new Tensor(y, [M, N]);
}
