/**
 * SparseGPT (Frantar & Alistarh, 2023): prune one layer to minimise its output
 * reconstruction error ‖WX − ŴX‖ on calibration inputs, updating the kept weights
 * to compensate (optimal brain surgeon, column by column, in blocks).
 *
 * H = XᵀX (the layer's input Gram matrix, from calibration) is dampened by λI
 * (λ = dampening × mean diag H, 1% by default) so it is invertible; the sweep reads
 * rows of U, the upper Cholesky factor of H⁻¹. The Cholesky / inverse (f64) and the
 * sweep (f32) run on the selected backend: native when available, js otherwise.
 * A Hessian that is still not positive definite is dampened 10× more, up to 6
 * times; the dampening used is returned, never NaN weights.
 */
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { Backend, BackendChoice, SparsegptPlan } from '../backend/types';
import { SparsennError } from '../errors';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { checkWeight, maskedWeight, parsePattern, resolveSparsity, type Pattern, type PatternSpec, type PruneResult } from './pattern';
import { pruneCount } from './select';

export interface SparsegptOptions {
  sparsity?: number;
  /** 'unstructured' (default) or 'N:M'. */
  pattern?: PatternSpec;
  /** Columns per lazy-update block (default 128; rounded up to a multiple of M for N:M). */
  blockSize?: number;
  /** λ as a fraction of the mean diagonal of H (default 0.01). */
  dampening?: number;
  backend?: BackendChoice;
}

export interface SparsegptResult extends PruneResult {
  /** The dampening fraction actually used (larger than asked when H needed more to be positive definite). */
  dampening: number;
  /** What was done about the Hessian (dead inputs, extra dampening), for the prune report. */
  notes: string[];
}

/** The layer's input Gram matrix XᵀX [K,K]: a Tensor, a Float64Array of K² values, or calibration stats. */
export type Hessian = Tensor | Float64Array | { hessian(): Float64Array };

const OPTIONS = ['sparsity', 'pattern', 'blockSize', 'dampening', 'backend'] as const;

export function checkHessian(h: unknown, k: number, fn: string): Float64Array {
  let data: unknown = h;
  if (h !== null && typeof h === 'object' && typeof (h as { hessian?: unknown }).hessian === 'function')
    data = (h as { hessian(): Float64Array }).hessian();
  if (data instanceof Tensor) {
    if (data.shape.length !== 2 || data.shape[0] !== k || data.shape[1] !== k)
      throw new SparsennError('ERR_SHAPE', `${fn}: the Hessian must be [${k}, ${k}], got [${data.shape.join(', ')}]`);
    data = Float64Array.from(data.toFloat32());
  } else if (data instanceof Float64Array) {
    if (data.length !== k * k)
      throw new SparsennError('ERR_SHAPE', `${fn}: the Hessian must hold ${k}x${k} = ${k * k} values, got ${data.length}`);
    data = Float64Array.from(data);
  } else {
    throw new SparsennError('ERR_ARG', `${fn}: the Hessian must be a [K, K] Tensor, a Float64Array of K² values, or calibration stats`);
  }
  const out = data as Float64Array;
  for (let i = 0; i < out.length; i++)
    if (!Number.isFinite(out[i]!)) throw new SparsennError('ERR_ARG', `${fn}: the Hessian holds a non-finite value at index ${i}`);
  return out;
}

interface Prepared {
  backend: Backend;
  w: Tensor;
  rows: number;
  cols: number;
  values: Float32Array;
  h: Float64Array;
  plan: SparsegptPlan;
  dampening: number;
  notes: string[];
}

function prepare(w: Tensor, hessian: Hessian, opts: SparsegptOptions | undefined, fn: string): Prepared {
  const o = checkOptions<SparsegptOptions>(opts, OPTIONS, fn);
  const pattern: Pattern = parsePattern(o.pattern, fn);
  if (pattern.kind === 'block') throw new SparsennError('ERR_ARG', `${fn}: SparseGPT supports unstructured and N:M patterns`);
  const sparsity = resolveSparsity(o.sparsity, pattern, fn);
  const blockOpt = o.blockSize ?? 128;
  if (!Number.isSafeInteger(blockOpt) || blockOpt < 1) throw new SparsennError('ERR_ARG', `${fn}: blockSize must be a positive integer`);
  const dampening = o.dampening ?? 0.01;
  if (typeof dampening !== 'number' || !(dampening > 0) || !Number.isFinite(dampening))
    throw new SparsennError('ERR_ARG', `${fn}: dampening must be a positive number, got ${String(dampening)}`);
  const backend = selectBackend(checkBackendChoice(o.backend));
  const { rows, cols, values } = checkWeight(w, pattern, fn);
  const h = checkHessian(hessian, cols, fn);
  const m = pattern.kind === 'nm' ? pattern.m : 0;
  const blockSize = m > 0 ? Math.ceil(blockOpt / m) * m : blockOpt;
  const blocks = Math.ceil(cols / blockSize);
  // Unstructured: exactly round(s·rows·cols) pruned over the layer, spread so that
  // columns [0, c) hold round(s·rows·c) of them.
  const pruneCounts = new Uint32Array(m > 0 ? 0 : blocks);
  for (let b = 0; b < pruneCounts.length; b++)
    pruneCounts[b] =
      pruneCount(sparsity, rows * Math.min(cols, (b + 1) * blockSize)) - pruneCount(sparsity, rows * b * blockSize);
  return {
    backend,
    w,
    rows,
    cols,
    values: Float32Array.from(values),
    h,
    plan: { n: pattern.kind === 'nm' ? pattern.n : 0, m, blockSize, pruneCounts },
    dampening,
    notes: [],
  };
}

/**
 * Inputs that are always zero (H_jj = 0) carry no information: their weights
 * are zeroed (so they are pruned first) and H_jj set to 1. Then λ = d·mean(diag H) is added.
 */
function dampen(p: Prepared, fraction: number): Float64Array {
  const k = p.cols;
  const h = Float64Array.from(p.h);
  let dead = 0;
  let mean = 0;
  for (let j = 0; j < k; j++) {
    if (h[j * k + j]! <= 0) {
      dead++;
      h[j * k + j] = 1;
      for (let r = 0; r < p.rows; r++) p.values[r * k + j] = 0;
    }
    mean += h[j * k + j]!;
  }
  mean /= Math.max(1, k);
  if (dead > 0 && fraction === p.dampening) p.notes.push(`${dead} input feature(s) never active in calibration: their weights pruned first`);
  const lambda = fraction * mean;
  for (let j = 0; j < k; j++) h[j * k + j]! += lambda;
  return h;
}

const MAX_RETRIES = 6;

function finish(p: Prepared, mask: Uint8Array, fraction: number): SparsegptResult {
  for (let i = 0; i < p.values.length; i++)
    if (!Number.isFinite(p.values[i]!)) throw new SparsennError('ERR_NATIVE', 'sparsegpt: the sweep produced a non-finite weight');
  return { weight: maskedWeight(p.values, mask, p.w), mask, dampening: fraction, notes: p.notes };
}

function notPd(p: Prepared, fraction: number, pivot: number): void {
  p.notes.push(`Hessian not positive definite at pivot ${pivot - 1} with dampening ${fraction}; retrying with ${fraction * 10}`);
}

/** SparseGPT on one layer, synchronously. */
export function sparsegpt(w: Tensor, hessian: Hessian, opts?: SparsegptOptions): SparsegptResult {
  const p = prepare(w, hessian, opts, 'prune.sparsegpt');
  const k = p.cols;
  const u = new Float64Array(k * k);
  let fraction = p.dampening;
  for (let attempt = 0; ; attempt++) {
    const status = p.backend.choleskyInverseUpper(dampen(p, fraction), k, u);
    if (status === 0) break;
    if (attempt === MAX_RETRIES) throw singular(fraction);
    notPd(p, fraction, status);
    fraction *= 10;
  }
  const uf = Float32Array.from(u);
  const mask = new Uint8Array(p.values.length);
  if (p.values.length > 0) p.backend.sparsegptSweep(p.values, p.rows, k, uf, mask, p.plan);
  return finish(p, mask, fraction);
}

/** SparseGPT on one layer, off the main thread (native) or after yielding (js). */
export async function sparsegptAsync(w: Tensor, hessian: Hessian, opts?: SparsegptOptions): Promise<SparsegptResult> {
  const p = prepare(w, hessian, opts, 'prune.sparsegpt');
  const k = p.cols;
  const u = new Float64Array(k * k);
  let fraction = p.dampening;
  for (let attempt = 0; ; attempt++) {
    const status = await p.backend.choleskyInverseUpperAsync(dampen(p, fraction), k, u);
    if (status === 0) break;
    if (attempt === MAX_RETRIES) throw singular(fraction);
    notPd(p, fraction, status);
    fraction *= 10;
  }
  const uf = Float32Array.from(u);
  const mask = new Uint8Array(p.values.length);
  if (p.values.length > 0) await p.backend.sparsegptSweepAsync(p.values, p.rows, k, uf, mask, p.plan);
  return finish(p, mask, fraction);
}

function singular(fraction: number): SparsennError {
  return new SparsennError('ERR_ARG', `prune.sparsegpt: the Hessian is not positive definite even with dampening ${fraction}`);
}
