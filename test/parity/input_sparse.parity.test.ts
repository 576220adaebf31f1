/**
 * Parity: sparse-activation matmul (dense W, mostly-zero x) on every backend against the js
 * reference and against dense matmul, over random awkward shapes and random sparsity.
 */
import { backendInfo, matmul, matmulAsync, prepareInputSparse, Tensor } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng, tolerance } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

/** x [M, K] with each entry zero with probability `zeros` (never an all-zero row unless K is tiny). */
function sparseInput(M: number, K: number, zeros: number, seed: number): Tensor {
  const r = rng(seed);
  const x = Tensor.random([M, K], seed + 1);
  const d = x.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (r() < zeros) d[i] = 0;
  for (let m = 0; m < M; m++) if (d.subarray(m * K, (m + 1) * K).every((v) => v === 0)) d[m * K] = 0.5;
  return x;
}

describeNative('input-sparse matmul: cpu vs js', () => {
  const r = rng(11);
  const cases: { M: number; K: number; N: number; zeros: number }[] = [];
  for (let i = 0; i < 24; i++) {
    const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 700));
    cases.push({ M: [1, 1, 2, 3, 17][randInt(r, 0, 4)]!, K: pick(), N: pick(), zeros: [0, 0.5, 0.9, 0.97, 0.7 + 0.3 * r()][randInt(r, 0, 4)]! });
  }
  cases.push({ M: 1, K: 4096, N: 1100, zeros: 0.9 }, { M: 2, K: 33, N: 2049, zeros: 0.8 });

  test.each(['f32', 'bf16', 'f16'] as const)('%s weights', (dtype) => {
    let seed = 1;
    for (const { M, K, N, zeros } of cases) {
      const x = sparseInput(M, K, zeros, seed++);
      const w = Tensor.random([N, K], seed++).to(dtype);
      const p = prepareInputSparse(w);
      const ref = matmul(x, p, { backend: 'js' }).data as Float32Array;
      const got = matmul(x, p, { backend: 'cpu' }).data as Float32Array;
      const err = relError(got, ref);
      if (!(err <= tolerance(dtype) / 10)) throw new Error(`M=${M} K=${K} N=${N} zeros=${zeros} ${dtype}: rel error ${err}`);
      const dense = matmul(x, w, { backend: 'js' }).data as Float32Array;
      expect(relError(ref, dense)).toBeLessThan(1e-6);
    }
  });

  test('async form and the inputSparse option agree with the prepared path', async () => {
    const x = sparseInput(3, 301, 0.9, 5);
    const w = Tensor.random([77, 301], 6);
    const a = (await matmulAsync(x, prepareInputSparse(w), { backend: 'cpu' })).data as Float32Array;
    const s = matmul(x, w, { backend: 'cpu', inputSparse: true }).data as Float32Array;
    const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
    expect(relError(a, ref)).toBeLessThan(1e-6);
    expect(relError(s, ref)).toBeLessThan(1e-6);
  });
});

test('input-sparse parity suite ran or says why not', () => {
  if (!native) console.warn('parity: native addon not loaded, input-sparse cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
