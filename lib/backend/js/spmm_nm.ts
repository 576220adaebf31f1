/**
 * Reference N:M matmul: y[M,N] = x[M,K] · wᵀ with w an NmMatrix, accumulating in f64.
 * Each row's stored values are expanded to (column, value) pairs once and reused for every
 * x row; positions in the zero padding past K are skipped (validate() guarantees they hold zeros).
 */
import { elementReader } from '../../dtype';
import type { NmMatrix } from '../../formats/nm';
import type { Tensor } from '../../tensor';

/** Computes output columns [n0, n1) of y. */
export function matmulNmRange(x: Tensor, w: NmMatrix, y: Float32Array, n0: number, n1: number): void {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0];
  const xd = x.data as Float32Array;
  const valueAt = elementReader(w.values, w.dtype);
  const perRow = w.groups * w.n;
  const cols = new Int32Array(perRow);
  const vals = new Float64Array(perRow);
  for (let r = n0; r < n1; r++) {
    let len = 0;
    for (let i = 0; i < perRow; i++) {
      const k = Math.floor(i / w.n) * w.m + w.position(r, i);
      if (k >= K) continue;
      cols[len] = k;
      vals[len] = valueAt(r * perRow + i);
      len++;
    }
    for (let m = 0; m < M; m++) {
      const xo = m * K;
      let s = 0;
      for (let j = 0; j < len; j++) s += vals[j]! * xd[xo + cols[j]!]!;
      y[m * N + r] = s;
    }
  }
}
