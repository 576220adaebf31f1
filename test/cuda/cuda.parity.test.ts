/**
 * Parity of the cuda backend against the js reference: dense (f32 / bf16 / f16), CSR, BSR and N:M
 * (2:4 on the sparse tensor cores; 1:4, 2:8 fitting or falling back to the row-wise kernel),
 * on random, awkward shapes, sync and async. Runs only where CUDA is available (a GPU, its
 * driver and a built addon that passed its self-test); elsewhere it is skipped and says why.
 */
import { backendInfo, matmul, matmulAsync, Tensor, toBsr, toCsr, toNm } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng, tolerance } from '../helpers';

const cuda = backendInfo().cuda;
const describeCuda = cuda.available ? describe : describe.skip;

/** A random [N, K] weight with `keep` of every `m` inputs nonzero (never all zeros). */
function nmWeight(N: number, K: number, keep: number, m: number, seed: number): Tensor {
  const r = rng(seed);
  const w = Tensor.random([N, K], seed);
  const d = w.data as Float32Array;
  for (let n = 0; n < N; n++)
    for (let g = 0; g < K; g += m) {
      const idx = [...Array(Math.min(m, K - g)).keys()].sort(() => r() - 0.5);
      for (const j of idx.slice(keep)) d[n * K + g + j] = 0;
    }
  return w;
}

describeCuda('cuda backend vs js', () => {
  const r = rng(7);
  const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 300));
  const shapes: [number, number, number][] = [[1, 1, 1], [1, 4096, 33], [16, 130, 257], [70, 64, 96]];
  for (let i = 0; i < 16; i++) shapes.push([randInt(r, 1, 20) === 1 ? 1 : pick(), pick(), pick()]);

  test.each(['f32', 'bf16', 'f16'] as const)('dense %s', async (dtype) => {
    let seed = 1;
    for (const [M, K, N] of shapes) {
      const x = Tensor.random([M, K], seed++);
      const w = Tensor.random([N, K], seed++).to(dtype);
      const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
      const got = matmul(x, w, { backend: 'cuda' }).data as Float32Array;
      const gotAsync = (await matmulAsync(x, w, { backend: 'cuda' })).data as Float32Array;
      for (const [what, y] of [['sync', got], ['async', gotAsync]] as const) {
        const err = relError(y, ref);
        if (!(err <= tolerance(dtype))) throw new Error(`${what} M=${M} K=${K} N=${N} ${dtype}: rel error ${err}`);
      }
    }
  });

  test.each(['f32', 'bf16', 'f16'] as const)('CSR %s', (dtype) => {
    let seed = 100;
    for (const [M, K, N] of shapes) {
      const x = Tensor.random([M, K], seed++);
      const w = nmWeight(N, K, 1, 8, seed++).to(dtype);
      const csr = toCsr(w);
      const err = relError(matmul(x, csr, { backend: 'cuda' }).data as Float32Array, matmul(x, csr, { backend: 'js' }).data as Float32Array);
      if (!(err <= tolerance(dtype))) throw new Error(`M=${M} K=${K} N=${N} ${dtype}: rel error ${err}`);
    }
  });

  test.each([
    [1, 16, 'f32'],
    [16, 1, 'bf16'],
    [4, 4, 'f16'],
    [3, 5, 'f32'],
    [100, 3, 'f16'],
    [2, 130, 'bf16'],
  ] as const)('BSR %ix%i %s, sync and async', async (br, bc, dtype) => {
    let seed = 300;
    for (const [M, K, N] of shapes) {
      const x = Tensor.random([M, K], seed++);
      const w = toBsr(nmWeight(N, K, 1, 3, seed++).to(dtype), { block: [br, bc] });
      const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
      const got = matmul(x, w, { backend: 'cuda' }).data as Float32Array;
      const gotAsync = (await matmulAsync(x, w, { backend: 'cuda' })).data as Float32Array;
      for (const [what, y] of [['sync', got], ['async', gotAsync]] as const) {
        const err = relError(y, ref);
        if (!(err <= tolerance(dtype))) throw new Error(`${what} M=${M} K=${K} N=${N} ${br}x${bc} ${dtype}: rel error ${err}`);
      }
    }
  });

  test.each([
    [2, 4, 'f16'],
    [2, 4, 'bf16'],
    [1, 4, 'f16'],
    [2, 8, 'bf16'],
    [4, 8, 'f16'],
    [2, 4, 'f32'],
  ] as const)('N:M %i:%i %s', (n, m, dtype) => {
    let seed = 200;
    for (const [M, K, N] of shapes) {
      const x = Tensor.random([M, K], seed++);
      const w = toNm(nmWeight(N, K, n, m, seed++).to(dtype), { n, m });
      const err = relError(matmul(x, w, { backend: 'cuda' }).data as Float32Array, matmul(x, w, { backend: 'js' }).data as Float32Array);
      if (!(err <= tolerance(dtype))) throw new Error(`M=${M} K=${K} N=${N} ${n}:${m} ${dtype}: rel error ${err}`);
    }
  });
});

test('cuda parity ran or says why not', () => {
  if (!cuda.available) console.warn(`cuda parity skipped: ${cuda.reason ?? 'CUDA not available'}`);
  expect(typeof cuda.available).toBe('boolean');
});
