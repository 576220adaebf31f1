/** Reference dense matmul: y[M,N] = x[M,K] · wᵀ, accumulating in f64 for a trustworthy reference. */
import { elementReader } from '../../dtype';
import type { Tensor } from '../../tensor';

/** Computes output columns [n0, n1) of y. */
export function matmulDenseRange(x: Tensor, w: Tensor, y: Float32Array, n0: number, n1: number): void {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0]!;
  const xd = x.data as Float32Array;
  const wAt = elementReader(w.data, w.dtype);
  const row = new Float64Array(K);
  for (let n = n0; n < n1; n++) {
    for (let k = 0; k < K; k++) row[k] = wAt(n * K + k);
    for (let m = 0; m < M; m++) {
      let s = 0;
      const xo = m * K;
      for (let k = 0; k < K; k++) s += xd[xo + k]! * row[k]!;
      y[m * N + n] = s;
    }
  }
}
