/** Shared test utilities: seeded random data, awkward shapes, relative error by norm. */
import { SparsennError } from '../lib/errors';
import { seededRandom } from '../lib/random';
import { Tensor } from '../lib/tensor';

/** Relative error ‖a − b‖ / ‖b‖ (b is the reference); 0 when both are empty. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

/** Seeded PRNG (mulberry32, the library's own) so failures reproduce. */
export const rng = seededRandom;

/** An integer in [lo, hi]. */
export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** Sizes that break SIMD-width assumptions: 1, primes, just over/under powers of two, plus random ones. */
export const AWKWARD_SIZES = [1, 2, 3, 7, 15, 16, 17, 31, 33, 63, 65, 100, 127, 129, 257];

export function randomTensor(shape: number[], seed: number, scale = 1): Tensor {
  return Tensor.random(shape, seed, scale);
}

/** Tolerance by dtype, per DESIGN.md. */
export function tolerance(dtype: 'f32' | 'bf16' | 'f16'): number {
  return dtype === 'f32' ? 1e-5 : 1e-2;
}

/** A random [N, K] weight with about `sparsity` of its entries set to exactly zero (seeded). */
export function pruned(N: number, K: number, sparsity: number, seed: number): Tensor {
  const w = Tensor.random([N, K], seed);
  const r = rng(seed);
  const d = w.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (r() < sparsity) d[i] = 0;
  return w;
}

/** The `code` of the SparsennError that f throws, or undefined when it returns; any other error is rethrown. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    if (!(e instanceof SparsennError)) throw e;
    return e.code;
  }
  return undefined;
}
