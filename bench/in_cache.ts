/**
 * A decode kernel's rate with its weight in cache: a small slice (a few hundred rows, L2-resident)
 * of the same K and pattern, called back to back. It is the work per byte without memory, so a
 * kernel streaming a large matrix cannot beat it; set beside a plain cold read of the same bytes
 * (the memory bound), it says which of the two limits the kernel.
 */
import { matmul, Tensor, type SparseMatrix } from '../lib/index';
import { timeInterleaved } from './harness';

/** GB/s of the slice's own stored bytes, median of back-to-back calls with one row of X. */
export async function inCacheGbps(slice: SparseMatrix, seed = 5): Promise<number> {
  const x = Tensor.random([1, slice.shape[1]], seed);
  const [st] = await timeInterleaved([() => matmul(x, slice, { backend: 'cpu' })], { warmup: 20, minRuns: 200, minTimeMs: 300 });
  return slice.bytes / (st!.medianMs / 1e3) / 1e9;
}
