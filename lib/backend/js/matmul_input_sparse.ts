/**
 * Reference sparse-activation matmul: y[M,N] = x[M,K] · W with W given transposed as
 * wt [K, N]: for each nonzero x[m,k], add x[m,k] · wt[k, :] into y[m, :]. Zero inputs cost
 * nothing, which is the whole point of the native version. Accumulates in f64.
 */
import { elementReader } from '../../dtype';
import type { Tensor } from '../../tensor';

/** Computes rows [m0, m1) of y. */
export function matmulInputSparseRange(x: Tensor, wt: Tensor, y: Float32Array, m0: number, m1: number): void {
  const K = x.shape[1]!;
  const N = wt.shape[1]!;
  const xd = x.data as Float32Array;
  const wAt = elementReader(wt.data, wt.dtype);
  const acc = new Float64Array(N);
  for (let m = m0; m < m1; m++) {
    acc.fill(0);
    for (let k = 0; k < K; k++) {
      const xv = xd[m * K + k]!;
      if (xv === 0) continue;
      const base = k * N;
      for (let c = 0; c < N; c++) acc[c]! += xv * wAt(base + c);
    }
    for (let c = 0; c < N; c++) y[m * N + c] = acc[c]!;
  }
}
