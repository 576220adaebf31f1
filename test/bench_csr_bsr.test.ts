/** The CSR/BSR bench suite's helpers: crossover interpolation and the pruned-weight generators. */
import { blockPrunedWeight, crossover, prunedWeight } from '../bench/sparse_csr_bsr';

test('crossover interpolates where the speedup reaches 1x', () => {
  expect(crossover([{ sparsity: 0.5, ratio: 0.5 }, { sparsity: 0.7, ratio: 1.5 }])).toBeCloseTo(0.6, 10);
  expect(crossover([{ sparsity: 0.9, ratio: 3 }, { sparsity: 0.5, ratio: 1.2 }])).toBe(0.5);
  expect(crossover([{ sparsity: 0.5, ratio: 0.2 }, { sparsity: 0.9, ratio: 0.9 }])).toBeUndefined();
});

test('pruned weights have about the requested sparsity; block pruning zeroes whole blocks', () => {
  const w = prunedWeight(64, 256, 0.9, 3).data as Float32Array;
  const zeros = w.filter((v) => v === 0).length / w.length;
  expect(Math.abs(zeros - 0.9)).toBeLessThan(0.02);
  const b = blockPrunedWeight(32, 64, 4, 4, 0.75, 5).data as Float32Array;
  let mixed = 0;
  for (let rb = 0; rb < 8; rb++)
    for (let cb = 0; cb < 16; cb++) {
      let nz = 0;
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) if (b[(rb * 4 + r) * 64 + cb * 4 + c] !== 0) nz++;
      if (nz !== 0 && nz !== 16) mixed++;
    }
  expect(mixed).toBe(0);
  expect(b.filter((v) => v === 0).length / b.length).toBeGreaterThan(0.6);
});
