/**
 * Layer reconstruction error: how far the pruned layer's outputs are from the
 * dense layer's on the calibration inputs, ‖WXᵀ − ŴXᵀ‖_F, computed from the Gram
 * matrix H = XᵀX as √(Σ_r d_r H d_rᵀ) with d_r = W_r − Ŵ_r (no need to keep X).
 */
import { SparsennError } from '../errors';
import { matmul } from '../ops/matmul';
import { Tensor } from '../tensor';

/** Above this many multiply-adds (rows·K²) the error goes through the native matmul in f32. */
const EXACT_LIMIT = 2e7;

export function reconstructionError(dense: Tensor | Float32Array, pruned: Tensor | Float32Array, h: Float64Array, cols: number): number {
  const a = dense instanceof Float32Array ? dense : dense.toFloat32();
  const b = pruned instanceof Float32Array ? pruned : pruned.toFloat32();
  if (a.length !== b.length || h.length !== cols * cols || (cols > 0 && a.length % cols !== 0))
    throw new SparsennError('ERR_SHAPE', 'reconstructionError: weights and Hessian sizes do not agree');
  const rows = cols === 0 ? 0 : a.length / cols;
  if (rows * cols * cols > EXACT_LIMIT) return viaMatmul(a, b, h, rows, cols);
  const d = new Float64Array(cols);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    const nz: number[] = [];
    for (let j = 0; j < cols; j++) {
      d[j] = a[r * cols + j]! - b[r * cols + j]!;
      if (d[j] !== 0) nz.push(j);
    }
    // d H dᵀ over the nonzero entries of d only (pruning leaves d sparse for methods without updates).
    for (const i of nz) {
      let s = 0;
      for (const j of nz) s += h[i * cols + j]! * d[j]!;
      total += d[i]! * s;
    }
  }
  return Math.sqrt(Math.max(0, total));
}

/** ‖WXᵀ‖_F from H: the scale to report the error relative to. */
export function outputNorm(dense: Tensor | Float32Array, h: Float64Array, cols: number): number {
  const a = dense instanceof Float32Array ? dense : dense.toFloat32();
  return reconstructionError(a, new Float32Array(a.length), h, cols);
}

/** Σ_r d_r·(H d_r) with D·H from one matmul (H is symmetric, so D·Hᵀ = D·H); f32 products, f64 sum. */
function viaMatmul(a: Float32Array, b: Float32Array, h: Float64Array, rows: number, cols: number): number {
  const d = new Float32Array(a.length);
  for (let i = 0; i < d.length; i++) d[i] = a[i]! - b[i]!;
  const dh = matmul(new Tensor(d, [rows, cols]), new Tensor(Float32Array.from(h), [cols, cols])).data as Float32Array;
  let total = 0;
  for (let i = 0; i < d.length; i++) total += d[i]! * dh[i]!;
  return Math.sqrt(Math.max(0, total));
}
