/** Reference bitmap matmul: y[M,N] = x[M,K] · Wᵀ with W in the bitmap format, accumulating in f64. */
import { elementReader } from '../../dtype';
import { BITMAP_GROUP, type BitmapMatrix } from '../../formats/bitmap';
import type { Tensor } from '../../tensor';

/**
 * Computes output columns [n0, n1) of y: row n's packed values are taken in order, one per
 * set mask bit, each multiplying the x column its bit stands for.
 */
export function matmulBitmapRange(x: Tensor, w: BitmapMatrix, y: Float32Array, n0: number, n1: number): void {
  const [M, K] = x.shape as [number, number];
  const N = w.shape[0];
  const G = w.groups;
  const xd = x.data as Float32Array;
  const valueAt = elementReader(w.values, w.dtype);
  const { masks, rowPtr } = w;
  for (let n = n0; n < n1; n++) {
    for (let m = 0; m < M; m++) {
      let s = 0;
      let j = rowPtr[n]!;
      const xo = m * K;
      for (let g = 0; g < G; g++) {
        const mask = masks[n * G + g]!;
        for (let i = 0; i < BITMAP_GROUP; i++) if (mask & (1 << i)) s += valueAt(j++) * xd[xo + g * BITMAP_GROUP + i]!;
      }
      y[m * N + n] = s;
    }
  }
}
