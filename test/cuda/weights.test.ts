/**
 * Host-side weight preparation for the CUDA addon (no GPU needed): N:M position bytes and the
 * N:M -> CSR fallback (f32 values, or patterns the sparse tensor cores cannot take) must describe
 * exactly the same matrix as the format's own toDense().
 */
import { nmAsCsr, nmPositions } from '../../lib/backend/cuda';
import { CsrMatrix } from '../../lib/formats/csr';
import { Tensor, toNm } from '../../lib/index';
import { randInt, rng } from '../helpers';

function nmWeight(N: number, K: number, keep: number, m: number, seed: number): Tensor {
  const r = rng(seed);
  const w = Tensor.random([N, K], seed);
  const d = w.data as Float32Array;
  for (let n = 0; n < N; n++)
    for (let g = 0; g < K; g += m) {
      const idx = [...Array(Math.min(m, K - g)).keys()].sort(() => r() - 0.5);
      for (const j of idx.slice(keep - (r() < 0.2 ? 1 : 0))) d[n * K + g + j] = 0; // some groups keep fewer
    }
  return w;
}

test.each([
  [2, 4],
  [1, 4],
  [4, 8],
  [3, 8],
  [5, 32],
])('%i:%i positions and CSR fallback match toDense', (n, m) => {
  const r = rng(n * 100 + m);
  for (let c = 0; c < 12; c++) {
    const N = randInt(r, 1, 40);
    const K = randInt(r, 1, 90);
    for (const dtype of ['f32', 'bf16', 'f16'] as const) {
      const w = toNm(nmWeight(N, K, n, m, c + 1).to(dtype), { n, m });
      const dense = w.toDense().data;
      // Positions: value i of row r sits at column (i / n) * m + position.
      const pos = nmPositions(w);
      const perRow = w.groups * n;
      const fromPos = dtype === 'f32' ? new Float32Array(N * K) : new Uint16Array(N * K);
      for (let row = 0; row < N; row++)
        for (let i = 0; i < perRow; i++) {
          const v = w.values[row * perRow + i]!;
          if (v !== 0) fromPos[row * K + Math.floor(i / n) * m + pos[row * perRow + i]!] = v;
        }
      expect(Array.from(fromPos)).toEqual(Array.from(dense));
      // The CSR arrays are a valid CsrMatrix of the same dense matrix.
      const csr = nmAsCsr(w);
      const back = new CsrMatrix([N, K], csr.rowPtr, csr.colIdx, csr.values, dtype).toDense().data;
      expect(Array.from(back)).toEqual(Array.from(dense));
    }
  }
});
