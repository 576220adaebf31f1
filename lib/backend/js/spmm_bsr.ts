/** Reference block-sparse matmul: y[M,N] = x[M,K] · Wᵀ with W in BSR, accumulating in f64. */
import { elementReader } from '../../dtype';
import type { BsrMatrix } from '../../formats/bsr';
import type { Tensor } from '../../tensor';

/**
 * Computes the output columns of block rows [rb0, rb1) of W. Padding outside the
 * real [N, K] is skipped, so x is never read past column K nor y past column N.
 */
export function matmulBsrRange(x: Tensor, w: BsrMatrix, y: Float32Array, rb0: number, rb1: number): void {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0];
  const [br, bc] = w.block;
  const xd = x.data as Float32Array;
  const valueAt = elementReader(w.values, w.dtype);
  const { blockRowPtr, blockCol } = w;
  for (let rb = rb0; rb < rb1; rb++) {
    const rows = Math.min(br, N - rb * br);
    for (let m = 0; m < M; m++) {
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = blockRowPtr[rb]!; j < blockRowPtr[rb + 1]!; j++) {
          const k0 = blockCol[j]! * bc;
          const cols = Math.min(bc, K - k0);
          const vo = j * br * bc + r * bc;
          for (let c = 0; c < cols; c++) s += valueAt(vo + c) * xd[m * K + k0 + c]!;
        }
        y[m * N + rb * br + r] = s;
      }
    }
  }
}
