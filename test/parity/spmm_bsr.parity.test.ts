/**
 * Parity: block-sparse matmul on every backend against the js reference, on random
 * weights whose zero pattern is random per block (and inside kept blocks), for block
 * shapes 1x4, 4x1, 4x4, 8x8, 16x1, 1x16, 1x8, 8x1, 2x2 (compile-time kernels) and odd ones (runtime loops), shapes that are not multiples
 * of the block (padding), every value dtype and M in {1, 3, 17, 64}.
 */
import { nativeBinding } from '../../lib/backend/native';
import { backendInfo, matmul, matmulAsync, Tensor, toBsr } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

/** Zeroes whole [br, bc] blocks with probability `sparsity`, and single elements with probability 0.2. */
function blockSparseWeight(N: number, K: number, br: number, bc: number, sparsity: number, seed: number): Tensor {
  const w = Tensor.random([N, K], seed);
  const r = rng(seed * 13 + 5);
  const d = w.data as Float32Array;
  const KB = Math.ceil(K / bc);
  const dropBlock = Array.from({ length: Math.ceil(N / br) * KB }, () => r() < sparsity);
  for (let n = 0; n < N; n++)
    for (let k = 0; k < K; k++)
      if (dropBlock[Math.floor(n / br) * KB + Math.floor(k / bc)] || r() < 0.2) d[n * K + k] = 0;
  return w;
}

const TOL = 1e-5; // both backends multiply the same stored values
const BLOCKS: [number, number][] = [
  [1, 4],
  [4, 1],
  [4, 4],
  [8, 8],
  [16, 1],
  [1, 16],
  [1, 8],
  [8, 1],
  [2, 2],
  [3, 5],
  [2, 1],
  [1, 1],
  [5, 32],
];

describeNative('BSR matmul: cpu vs js', () => {
  const r = rng(99);
  const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 200));
  test.each(['f32', 'bf16', 'f16'] as const)('%s values, sync and async', async (dtype) => {
    let seed = 3;
    for (const [br, bc] of BLOCKS) {
      for (const M of [1, 3, 17, 64]) {
        const N = pick();
        const K = pick();
        const x = Tensor.random([M, K], seed++);
        const w = toBsr(blockSparseWeight(N, K, br, bc, 0.3 + 0.6 * r(), seed++), { block: [br, bc], dtype });
        const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
        const got = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
        const gotAsync = (await matmulAsync(x, w, { backend: 'cpu' })).data as Float32Array;
        const where = `block ${br}x${bc} M=${M} N=${N} K=${K} ${dtype}`;
        if (!(relError(got, ref) <= TOL)) throw new Error(`${where}: rel error ${relError(got, ref)}`);
        if (!(relError(gotAsync, ref) <= TOL)) throw new Error(`${where} async: rel error ${relError(gotAsync, ref)}`);
      }
    }
  });

  test('equals dense matmul of the original weight (padding never leaks into y)', () => {
    const N = 37;
    const K = 45;
    const dense = blockSparseWeight(N, K, 8, 8, 0.5, 21);
    const x = Tensor.random([5, K], 22);
    const want = matmul(x, dense, { backend: 'js' }).data as Float32Array;
    for (const block of BLOCKS) {
      const got = matmul(x, toBsr(dense, { block }), { backend: 'cpu' }).data as Float32Array;
      expect(relError(got, want)).toBeLessThanOrEqual(TOL);
    }
  });
});

describeNative('BSR native function refuses corrupted arrays', () => {
  const N = 9;
  const K = 10;
  const M = 2;
  const w = toBsr(blockSparseWeight(N, K, 4, 4, 0.3, 5), { block: [4, 4] });
  const codeOf = (rowPtr: Uint32Array, col: Uint16Array | Uint32Array, values: Float32Array, br = 4, bc = 4) => {
    const x = Tensor.random([M, K], 1).data as Float32Array;
    try {
      nativeBinding()!.matmulBsr(x, M, K, rowPtr, col, values, 0, N, br, bc, new Float32Array(M * N));
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  test('block column past the padded width, pointers out of order, lengths that lie, bad block', async () => {
    const values = w.values as Float32Array;
    expect(w.nblocks).toBeGreaterThan(2);
    expect(codeOf(w.blockRowPtr, w.blockCol, values)).toBeUndefined();
    const col = w.blockCol.slice();
    col[0] = 3; // KB = ceil(10 / 4) = 3
    expect(codeOf(w.blockRowPtr, col, values)).toBe('ERR_FORMAT');
    const x = Tensor.random([M, K], 1).data as Float32Array;
    await expect(
      nativeBinding()!.matmulBsrAsync(x, M, K, w.blockRowPtr, col, values, 0, N, 4, 4, new Float32Array(M * N)),
    ).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    const ptr = w.blockRowPtr.slice();
    ptr[1] = ptr[2]! + 1;
    expect(codeOf(ptr, w.blockCol, values)).toBe('ERR_FORMAT');
    expect(codeOf(w.blockRowPtr, w.blockCol, values.subarray(1))).toBe('ERR_FORMAT');
    expect(codeOf(w.blockRowPtr, w.blockCol, values, 0, 4)).toBe('ERR_ARG');
    expect(codeOf(w.blockRowPtr, w.blockCol, values, 4, 2)).toBe('ERR_FORMAT'); // values no longer nblocks * 8
  });
});

test('BSR parity suite ran or says why not', () => {
  if (!native) console.warn('parity: native addon not loaded, BSR cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
