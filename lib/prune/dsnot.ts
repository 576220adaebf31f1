/**
 * DSnoT (Zhang et al., 2023, "Dynamic Sparse No Training"): training-free mask
 * refinement after any pruner. For each output row it repeatedly revives one
 * pruned weight and prunes one kept weight (in the same N:M group for N:M), so the
 * sparsity and pattern never change, choosing swaps that shrink the row's
 * reconstruction error.
 *
 * The paper picks swaps from input means and variances; here every candidate swap
 * is scored by its exact change of the row error e = d H dᵀ (d = W_r − Ŵ_r, H = XᵀX):
 * reviving j and pruning i changes it by
 *   Δe = −2 d_j g_j + d_j² H_jj + 2 ŵ_i g_i + ŵ_i² H_ii − 2 d_j ŵ_i H_ij,   g = H d,
 * and a swap is made only when Δe < 0, so the error never increases. Revived
 * weights take their dense value.
 */
import { SparsennError } from '../errors';
import { matmul } from '../ops/matmul';
import { checkOptions } from '../options';
import { Tensor } from '../tensor';
import { checkWeight, maskedWeight, parsePattern, type Pattern, type PatternSpec, type PruneResult } from './pattern';
import { checkHessian, type Hessian } from './sparsegpt';

export interface DsnotOptions {
  /** The pattern the mask follows ('unstructured' default, or 'N:M'); swaps keep it. */
  pattern?: PatternSpec;
  /** At most this many swaps per row (default 64). */
  maxSwaps?: number;
}

export interface DsnotResult extends PruneResult {
  /** Swaps made over all rows. */
  swaps: number;
}

export function dsnot(dense: Tensor, pruned: PruneResult, hessian: Hessian, opts?: DsnotOptions): DsnotResult {
  const fn = 'prune.dsnot';
  const o = checkOptions<DsnotOptions>(opts, ['pattern', 'maxSwaps'], fn);
  const pattern: Pattern = parsePattern(o.pattern, fn);
  if (pattern.kind === 'block') throw new SparsennError('ERR_ARG', `${fn}: DSnoT refines unstructured and N:M masks`);
  const maxSwaps = o.maxSwaps ?? 64;
  if (!Number.isSafeInteger(maxSwaps) || maxSwaps < 0) throw new SparsennError('ERR_ARG', `${fn}: maxSwaps must be a non-negative integer`);
  const { rows, cols, values: w } = checkWeight(dense, pattern, fn);
  if (!pruned || !(pruned.mask instanceof Uint8Array) || pruned.mask.length !== rows * cols)
    throw new SparsennError('ERR_SHAPE', `${fn}: the pruned result's mask must be a Uint8Array of ${rows * cols} entries`);
  const { values: wp } = checkWeight(pruned.weight, pattern, fn);
  if (pruned.weight.shape[0] !== rows || pruned.weight.shape[1] !== cols)
    throw new SparsennError('ERR_SHAPE', `${fn}: the pruned weight must be [${rows}, ${cols}] like the dense one`);
  const h = checkHessian(hessian, cols, fn);
  const mask = Uint8Array.from(pruned.mask);
  const out = Float32Array.from(wp);
  const k = cols;
  const d = new Float64Array(k);
  const g = new Float64Array(k);
  const groupSize = pattern.kind === 'nm' ? pattern.m : k;
  // g = H d for every row at the start: exact f64 loops for small layers; for large
  // ones one native matmul D·H in f32, and then swaps must beat a margin that covers its rounding.
  const large = rows * k * k > LARGE;
  const gAll = large ? startGradients(w, out, mask, h, rows, k) : null;
  const margin = large ? 1e-5 : 1e-12;
  let swaps = 0;
  for (let r = 0; r < rows; r++) {
    const row = r * k;
    for (let j = 0; j < k; j++) d[j] = w[row + j]! - (mask[row + j] ? out[row + j]! : 0);
    if (gAll) for (let i = 0; i < k; i++) g[i] = gAll[row + i]!;
    else
      for (let i = 0; i < k; i++) {
        let s = 0;
        for (let j = 0; j < k; j++) s += h[i * k + j]! * d[j]!;
        g[i] = s;
      }
    for (let step = 0; step < maxSwaps; step++) {
      // The best (revive j, prune i) pair within one group (the whole row when unstructured).
      let bestDelta = 0;
      let bestJ = -1;
      let bestI = -1;
      for (let g0 = 0; g0 < k; g0 += groupSize) {
        const g1 = Math.min(k, g0 + groupSize);
        // The most promising revival of this group first, then its best partner.
        let j = -1;
        let grow = 0;
        for (let c = g0; c < g1; c++) {
          if (mask[row + c]) continue;
          const dj = d[c]!;
          const gain = -2 * dj * g[c]! + dj * dj * h[c * k + c]!;
          if (j < 0 || gain < grow) {
            j = c;
            grow = gain;
          }
        }
        if (j < 0 || grow >= 0) continue;
        const dj = d[j]!;
        for (let i = g0; i < g1; i++) {
          if (!mask[row + i]) continue;
          const wi = out[row + i]!;
          const delta = grow + 2 * wi * g[i]! + wi * wi * h[i * k + i]! - 2 * dj * wi * h[i * k + j]!;
          if (delta < bestDelta) {
            bestDelta = delta;
            bestJ = j;
            bestI = i;
          }
        }
      }
      // Stop when no swap lowers the error by more than rounding could account for.
      const e = rowError(d, g);
      if (bestJ < 0 || bestDelta > -margin * Math.max(e, 1e-300)) break;
      const dj = d[bestJ]!;
      const wi = out[row + bestI]!;
      for (let c = 0; c < k; c++) g[c]! += -dj * h[c * k + bestJ]! + wi * h[c * k + bestI]!;
      d[bestJ] = 0;
      d[bestI]! += wi;
      mask[row + bestJ] = 1;
      out[row + bestJ] = w[row + bestJ]!;
      mask[row + bestI] = 0;
      out[row + bestI] = 0;
      swaps++;
    }
  }
  return { weight: maskedWeight(out, mask, pruned.weight), mask, swaps };
}

/** Above this many multiply-adds (rows·K²) the starting gradients come from the native matmul. */
const LARGE = 2e7;

function startGradients(w: Float32Array, out: Float32Array, mask: Uint8Array, h: Float64Array, rows: number, k: number): Float32Array {
  const d = new Float32Array(rows * k);
  for (let i = 0; i < d.length; i++) d[i] = w[i]! - (mask[i] ? out[i]! : 0);
  return matmul(new Tensor(d, [rows, k]), new Tensor(Float32Array.from(h), [k, k])).data as Float32Array;
}

function rowError(d: Float64Array, g: Float64Array): number {
  let e = 0;
  for (let i = 0; i < d.length; i++) e += d[i]! * g[i]!;
  return e;
}
