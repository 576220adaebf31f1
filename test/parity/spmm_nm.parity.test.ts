/**
 * Parity: N:M matmul on every backend against the js reference, over random awkward shapes
 * (K not a multiple of m, odd N) x {1:4, 2:4, 2:8, 4:8} x dtypes x M in {1, 3, 17, 31, 64, 65, 130, 257}.
 */
import { backendInfo, matmul, matmulAsync, Tensor, toNm } from '../../lib/index';
import { randomNmDense } from '../formats/nm_random';
import { randInt, relError, rng, tolerance } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

const PATTERNS: [number, number][] = [
  [1, 4],
  [2, 4],
  [2, 8],
  [4, 8],
];

describeNative('N:M matmul: cpu vs js', () => {
  const r = rng(7);
  const cases: { M: number; K: number; N: number }[] = [];
  for (const M of [1, 3, 17, 64])
    for (let i = 0; i < 4; i++) cases.push({ M, K: randInt(r, 1, 300) | (i === 0 ? 1 : 0), N: randInt(r, 1, 70) | 1 });
  cases.push({ M: 1, K: 4096 + 13, N: 33 }, { M: 5, K: 32, N: 16 }, { M: 64, K: 2048 + 64 + 3, N: 37 }, { M: 2, K: 1, N: 1 });
  cases.push({ M: 130, K: 203, N: 101 }); // prefill kernel: a partial last panel of X rows and a tail of W rows
  // 2:4 prefill (outer products on packed X): partial panels of 32 / 64 X rows, K past whole metadata
  // words (32 columns) and past whole groups, W rows past the register tile and the task.
  for (const M of [31, 65, 257]) cases.push({ M, K: randInt(r, 33, 700) | 1, N: randInt(r, 1, 300) | 1 });
  cases.push({ M: 257, K: 64 * 3 + 32 + 6, N: 131 }, { M: 65, K: 4096 + 30, N: 9 });

  test.each(PATTERNS)('%i:%i over f32 / bf16 / f16', (n, m) => {
    let seed = 100 * n + m;
    for (const dtype of ['f32', 'bf16', 'f16'] as const)
      for (const { M, K, N } of cases) {
        const x = Tensor.random([M, K], seed++);
        const w = toNm(randomNmDense(N, K, n, m, seed++), { n, m, dtype });
        const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
        const got = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
        const err = relError(got, ref);
        if (!(err <= tolerance(dtype) / 10)) throw new Error(`${n}:${m} ${dtype} M=${M} K=${K} N=${N}: rel error ${err}`);
        // The N:M weight stands for its dense form: compare against dense matmul too.
        const dense = matmul(x, w.toDense(), { backend: 'js' }).data as Float32Array;
        expect(relError(ref, dense)).toBeLessThan(1e-6);
      }
  });

  test('async form matches sync on cpu', async () => {
    const x = Tensor.random([9, 203], 3);
    const w = toNm(randomNmDense(41, 203, 2, 4, 4));
    const a = (await matmulAsync(x, w, { backend: 'cpu' })).data as Float32Array;
    const s = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
    expect(relError(a, s)).toBe(0);
  });
});

test('N:M parity suite ran or says why not', () => {
  if (!native) console.warn('parity: native addon not loaded, N:M cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
