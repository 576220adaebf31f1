/**
 * Reference for sparsegptSweep: SparseGPT's column-blocked OBS pruning
 * (Frantar & Alistarh, 2023, Algorithm 1) over w [rows, cols] in place.
 *
 * u is the upper Cholesky factor of H⁻¹. Walking columns left to right, pruning
 * weight (r, c) costs w²/U_cc² of reconstruction error, and the optimal
 * compensation of the row's not-yet-visited weights is w[r, c+1:] −= (w/U_cc)·U[c, c+1:].
 * Within a block of B columns the update is applied column by column; the block's
 * accumulated error is applied to the later columns in one batch ("lazy" update).
 *
 * Masks: unstructured → per block, the plan.pruneCounts[b] lowest w²/U_cc² of the
 * whole block (all rows), chosen when the block starts; N:M → in each group of m
 * columns of a row (a last partial group of w columns prunes ⌊(m − n)·w/m⌋), the m − n lowest, chosen from the updated weights when the
 * sweep reaches the group. Ties go to the lower index. Weights are f32 and every
 * stored value is rounded to f32, as the native kernel does.
 */
import type { SparsegptPlan } from '../types';

export function sparsegptSweep(w: Float32Array, rows: number, cols: number, u: Float32Array, mask: Uint8Array, plan: SparsegptPlan): void {
  const B = plan.blockSize;
  const err = new Float32Array(B);
  const f = Math.fround;
  for (let i1 = 0, b = 0; i1 < cols; i1 += B, b++) {
    const i2 = Math.min(cols, i1 + B);
    const width = i2 - i1;
    for (let r = 0; r < rows; r++) mask.fill(1, r * cols + i1, r * cols + i2);
    if (plan.m === 0) selectBlock(w, rows, cols, u, mask, i1, width, Math.min(plan.pruneCounts[b]!, rows * width));
    for (let r = 0; r < rows; r++) {
      const row = r * cols;
      for (let c = 0; c < width; c++) {
        const ii = i1 + c;
        if (plan.m > 0 && c % plan.m === 0) selectGroup(w, cols, u, mask, row, ii, plan.n, plan.m, Math.min(plan.m, cols - ii));
        const q = mask[row + ii] ? w[row + ii]! : 0;
        const e = f((w[row + ii]! - q) / u[ii * cols + ii]!);
        err[c] = e;
        w[row + ii] = q;
        if (e !== 0) for (let j = ii + 1; j < i2; j++) w[row + j] = f(w[row + j]! - f(e * u[ii * cols + j]!));
      }
      // The lazy batch update of the later columns.
      for (let c = 0; c < width; c++) {
        const e = err[c]!;
        if (e === 0) continue;
        const uc = (i1 + c) * cols;
        for (let j = i2; j < cols; j++) w[row + j] = f(w[row + j]! - f(e * u[uc + j]!));
      }
    }
  }
}

/** Unstructured: prunes the `count` lowest w²/U_cc² of block columns [i1, i1 + width), ties by (row, column) order. */
function selectBlock(w: Float32Array, rows: number, cols: number, u: Float32Array, mask: Uint8Array, i1: number, width: number, count: number): void {
  if (count <= 0) return;
  const scores = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < width; c++) {
      const wv = w[r * cols + i1 + c]!;
      const d = u[(i1 + c) * cols + i1 + c]!;
      scores[r * width + c] = (wv * wv) / (d * d);
    }
  const order = Array.from({ length: rows * width }, (_, i) => i);
  order.sort((a, b) => scores[a]! - scores[b]! || a - b);
  for (let s = 0; s < count; s++) {
    const at = order[s]!;
    mask[Math.floor(at / width) * cols + i1 + (at % width)] = 0;
  }
}

/**
 * N:M: in the group of `width` columns starting at ii of one row (m, or fewer for a
 * last partial group), prunes the m − n (⌊(m − n)·width/m⌋) lowest w²/U_cc².
 */
function selectGroup(w: Float32Array, cols: number, u: Float32Array, mask: Uint8Array, row: number, ii: number, n: number, m: number, width: number): void {
  const drops = width === m ? m - n : Math.floor(((m - n) * width) / m);
  for (let drop = 0; drop < drops; drop++) {
    let best = -1;
    let bestScore = 0;
    for (let g = 0; g < width; g++) {
      if (!mask[row + ii + g]) continue;
      const wv = w[row + ii + g]!;
      const d = u[(ii + g) * cols + ii + g]!;
      const s = (wv * wv) / (d * d);
      if (best < 0 || s < bestScore) {
        best = g;
        bestScore = s;
      }
    }
    mask[row + ii + best] = 0;
  }
}
