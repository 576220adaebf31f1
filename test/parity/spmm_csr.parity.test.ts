/**
 * Parity: CSR matmul on every backend against the js reference, on random sparse
 * weights (random values, random zero pattern, random sparsity) over awkward shapes,
 * every value dtype, and M in {1, 3, 17, 31, 64, 65, 257} (gather and K-blocked packed forms).
 * Also: the native function itself refuses corrupted CSR arrays with ERR_FORMAT.
 */
import { nativeBinding } from '../../lib/backend/native';
import { backendInfo, matmul, matmulAsync, SparsennError, Tensor, toCsr } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

/** A random [N, K] weight with about `sparsity` of its elements set to exactly zero. */
function sparseWeight(N: number, K: number, sparsity: number, seed: number): Tensor {
  const w = Tensor.random([N, K], seed);
  const r = rng(seed * 7 + 1);
  const d = w.data as Float32Array;
  for (let i = 0; i < d.length; i++) if (r() < sparsity) d[i] = 0;
  return w;
}

// Both backends multiply the same stored (already rounded) values, so f32 accumulation order is the only difference.
const TOL = 1e-5;

describeNative('CSR matmul: cpu vs js', () => {
  const r = rng(7);
  const pick = () => (r() < 0.5 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : randInt(r, 1, 300));
  const cases: { M: number; N: number; K: number; sparsity: number }[] = [];
  for (const M of [1, 3, 17, 64]) for (let i = 0; i < 6; i++) cases.push({ M, N: pick(), K: pick(), sparsity: 0.3 + 0.69 * r() });
  cases.push({ M: 1, N: 1, K: 1, sparsity: 0 }, { M: 2, N: 9, K: 4099, sparsity: 0.9 }, { M: 70, N: 33, K: 129, sparsity: 0.5 });
  cases.push({ M: 5, N: 7, K: 50, sparsity: 1 }); // every row empty: y must be exactly zero
  // K-blocked prefill form: partial X panels (16 / 32 rows), K over several 512-column blocks.
  for (const M of [31, 65, 257]) cases.push({ M, N: randInt(r, 1, 90) | 1, K: randInt(r, 513, 1700), sparsity: 0.5 + 0.45 * r() });
  cases.push({ M: 33, N: 300, K: 1024 + 7, sparsity: 0.9 }, { M: 65, N: 5, K: 511, sparsity: 0.3 });

  test.each(['f32', 'bf16', 'f16'] as const)('%s values, sync and async', async (dtype) => {
    let seed = 11;
    for (const { M, N, K, sparsity } of cases) {
      const x = Tensor.random([M, K], seed++);
      const w = toCsr(sparseWeight(N, K, sparsity, seed++), { dtype });
      const ref = matmul(x, w, { backend: 'js' }).data as Float32Array;
      const got = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
      const gotAsync = (await matmulAsync(x, w, { backend: 'cpu' })).data as Float32Array;
      const where = `M=${M} N=${N} K=${K} sparsity=${sparsity.toFixed(2)} ${dtype}`;
      if (!(relError(got, ref) <= TOL)) throw new Error(`${where}: rel error ${relError(got, ref)}`);
      if (!(relError(gotAsync, ref) <= TOL)) throw new Error(`${where} async: rel error ${relError(gotAsync, ref)}`);
      if (w.nnz === 0) expect(got.every((v) => v === 0)).toBe(true);
    }
  });

  test('matches the dense matmul of toDense() (js), and u32 indices when K > 65536', () => {
    for (const [M, N, K] of [
      [3, 5, 70001],
      [1, 40, 300],
    ] as const) {
      const x = Tensor.random([M, K], 3);
      const w = toCsr(sparseWeight(N, K, 0.95, 4));
      expect(w.colIdx instanceof Uint32Array).toBe(K > 65536);
      const dense = matmul(x, w.toDense(), { backend: 'js' }).data as Float32Array;
      const got = matmul(x, w, { backend: 'cpu' }).data as Float32Array;
      expect(relError(got, dense)).toBeLessThanOrEqual(TOL);
    }
  });

  test('threads are balanced by nonzeros: a skewed matrix still matches', () => {
    const N = 64;
    const K = 500;
    const w = sparseWeight(N, K, 0.99, 5);
    const d = w.data as Float32Array;
    for (let k = 0; k < K; k++) d[k] = 1 + (k % 7); // row 0 dense, the rest nearly empty
    const x = Tensor.random([2, K], 6);
    const c = toCsr(w);
    expect(relError(matmul(x, c, { backend: 'cpu' }).data, matmul(x, c, { backend: 'js' }).data)).toBeLessThanOrEqual(TOL);
  });
});

describeNative('CSR native function refuses corrupted arrays', () => {
  const N = 4;
  const K = 10;
  const M = 2;
  const good = () => toCsr(sparseWeight(N, K, 0.5, 9));
  const call = (rowPtr: Uint32Array, colIdx: Uint16Array | Uint32Array, values: Float32Array, async = false) => {
    const b = nativeBinding()!;
    const x = Tensor.random([M, K], 1).data as Float32Array;
    const y = new Float32Array(M * N);
    return async
      ? b.matmulCsrAsync(x, M, K, rowPtr, colIdx, values, 0, N, y)
      : b.matmulCsr(x, M, K, rowPtr, colIdx, values, 0, N, y);
  };
  const codeOf = (f: () => unknown): string | undefined => {
    try {
      f();
    } catch (e) {
      return (e as { code?: string }).code;
    }
    return undefined;
  };

  test('column index >= K (sync and async; big and small M)', async () => {
    const w = good();
    const col = w.colIdx.slice();
    col[col.length - 1] = 65535;
    expect(codeOf(() => call(w.rowPtr, col, w.values as Float32Array))).toBe('ERR_FORMAT');
    await expect(call(w.rowPtr, col, w.values as Float32Array, true)).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    // packed (prefill) form
    const Mbig = 40;
    const x = new Float32Array(Mbig * K).fill(1);
    const y = new Float32Array(Mbig * N);
    expect(codeOf(() => nativeBinding()!.matmulCsr(x, Mbig, K, w.rowPtr, col, w.values as Float32Array, 0, N, y))).toBe(
      'ERR_FORMAT',
    );
  });

  test('column index >= K inside a full SIMD step of a long row, u16 and u32 indices', () => {
    for (const big of [false, true]) {
      const Kl = big ? 70000 : 300;
      const w = toCsr(sparseWeight(3, Kl, 0.5, 12));
      expect(w.colIdx instanceof Uint32Array).toBe(big);
      const x = new Float32Array(Kl).fill(1);
      // K itself (the first bad index), the largest index, and 2^31 (negative as a signed lane).
      const bad = big ? [Kl, 0xffffffff, 0x80000000] : [Kl, 65535];
      for (const [i, at] of [3, 20, 40, 17].entries()) {
        const col = w.colIdx.slice();
        col[at] = bad[i % bad.length]!;
        const y = new Float32Array(3);
        let code: string | undefined;
        try {
          nativeBinding()!.matmulCsr(x, 1, Kl, w.rowPtr, col, w.values as Float32Array, 0, 3, y);
        } catch (e) {
          code = (e as { code?: string }).code;
        }
        expect(code).toBe('ERR_FORMAT');
      }
    }
  });

  test('a row whose indices are not increasing still gets its full sum in the prefill form', () => {
    // The blocked kernel finds a row's nonzeros per column block with a cursor, which needs
    // increasing indices; a buffer that breaks that (never built by toCsr) takes a checked pass.
    const Kl = 1500;
    const Ml = 40;
    const w = toCsr(sparseWeight(3, Kl, 0.5, 13));
    const x = Tensor.random([Ml, Kl], 14).data as Float32Array;
    const run = (col: Uint16Array | Uint32Array, val: Float32Array) => {
      const y = new Float32Array(Ml * 3);
      nativeBinding()!.matmulCsr(x, Ml, Kl, w.rowPtr, col, val, 0, 3, y);
      return y;
    };
    const col = w.colIdx.slice();
    const val = (w.values as Float32Array).slice();
    const a = w.rowPtr[1]! + 2;
    const b = w.rowPtr[2]! - 3; // row 1: swap a low and a high column (and their values)
    [col[a], col[b]] = [col[b]!, col[a]!];
    [val[a], val[b]] = [val[b]!, val[a]!];
    expect(relError(run(col, val), run(w.colIdx, w.values as Float32Array))).toBeLessThanOrEqual(TOL);
  });

  test('row pointers out of order, not starting at 0, or not ending at nnz', () => {
    const w = good();
    const rp = w.rowPtr.slice();
    rp[1] = rp[2]! + 1;
    expect(codeOf(() => call(rp, w.colIdx, w.values as Float32Array))).toBe('ERR_FORMAT');
    const rp0 = w.rowPtr.slice();
    rp0[0] = 1;
    expect(codeOf(() => call(rp0, w.colIdx, w.values as Float32Array))).toBe('ERR_FORMAT');
    const rpEnd = w.rowPtr.slice();
    rpEnd[N] = 1_000_000;
    expect(codeOf(() => call(rpEnd, w.colIdx, w.values as Float32Array))).toBe('ERR_FORMAT');
    expect(codeOf(() => call(w.rowPtr, w.colIdx, (w.values as Float32Array).subarray(1)))).toBe('ERR_FORMAT');
    expect(codeOf(() => call(w.rowPtr.subarray(1), w.colIdx, w.values as Float32Array))).toBe('ERR_SHAPE');
    expect(codeOf(() => call(w.rowPtr, new Float32Array(w.nnz) as unknown as Uint16Array, w.values as Float32Array))).toBe(
      'ERR_DTYPE',
    );
  });

  test('a CsrMatrix edited after construction is refused by matmul on every backend', async () => {
    const w = good();
    (w.colIdx as Uint16Array)[0] = K + 3;
    const x = Tensor.random([M, K], 2);
    for (const backend of ['js', 'cpu'] as const) {
      expect(() => matmul(x, w, { backend })).toThrow(SparsennError);
      await expect(matmulAsync(x, w, { backend })).rejects.toMatchObject({ code: 'ERR_FORMAT' });
    }
  });
});

test('CSR parity suite ran or says why not', () => {
  if (!native) console.warn('parity: native addon not loaded, CSR cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
