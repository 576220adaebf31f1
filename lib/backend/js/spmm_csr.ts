/** Reference CSR matmul: y[M,N] = x[M,K] · Wᵀ with W in CSR, accumulating in f64 for a trustworthy reference. */
import { elementReader } from '../../dtype';
import type { CsrMatrix } from '../../formats/csr';
import type { Tensor } from '../../tensor';

/** Computes output columns [n0, n1) of y: y[m, n] = Σ_j values[j] · x[m, colIdx[j]] over row n's entries. */
export function matmulCsrRange(x: Tensor, w: CsrMatrix, y: Float32Array, n0: number, n1: number): void {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0];
  const xd = x.data as Float32Array;
  const valueAt = elementReader(w.values, w.dtype);
  const { rowPtr, colIdx } = w;
  for (let n = n0; n < n1; n++) {
    const b = rowPtr[n]!;
    const e = rowPtr[n + 1]!;
    for (let m = 0; m < M; m++) {
      let s = 0;
      const xo = m * K;
      for (let j = b; j < e; j++) s += valueAt(j) * xd[xo + colIdx[j]!]!;
      y[m * N + n] = s;
    }
  }
}
