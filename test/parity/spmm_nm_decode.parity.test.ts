/**
 * Parity for the 2:4 decode path (M = 1..4 X rows, one pass over W): the shapes that reach its
 * corners, against the js reference on every dtype.
 *  - N: whole tiles of 8 (4 for M >= 3) W rows, a tail of single rows, and enough tiles that the
 *    next-tile prefetch and its wrap into the next tile are taken (they must not change results).
 *  - K: an even and an odd number of metadata words (bf16 with one X row takes two words per step,
 *    then one), a partial last word (scalar tail) and K below one word.
 */
import { backendInfo, matmul, Tensor, toNm } from '../../lib/index';
import { randomNmDense } from '../formats/nm_random';
import { relError, tolerance } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

describeNative('2:4 decode (M <= 4): cpu vs js', () => {
  const Ks = [64 * 32, 33 * 32, 32 * 32 + 4, 32 * 7 + 13, 20];
  const Ns = [8 * 9, 8 * 5 + 3, 4 * 3 + 1, 1];

  test.each([1, 2, 3, 4])('M=%i over f32 / bf16 / f16', (M) => {
    let seed = 1000 * M;
    for (const dtype of ['f32', 'bf16', 'f16'] as const)
      for (const K of Ks)
        for (const N of Ns) {
          const x = Tensor.random([M, K], seed++);
          const w = toNm(randomNmDense(N, K, 2, 4, seed++), { n: 2, m: 4, dtype });
          const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
          const got = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
          const err = relError(got, ref);
          if (!(err <= tolerance(dtype) / 10)) throw new Error(`2:4 ${dtype} M=${M} K=${K} N=${N}: rel error ${err}`);
        }
  });
});

test('2:4 decode parity ran or says why not', () => {
  if (!native) console.warn('parity: native addon not loaded, 2:4 decode cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
