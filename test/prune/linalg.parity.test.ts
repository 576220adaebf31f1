/**
 * Parity: the native Cholesky-inverse factor and SparseGPT sweep against the js
 * reference, on random SPD matrices / weights of awkward sizes.
 */
import { selectBackend } from '../../lib/backend/select';
import { jsBackend } from '../../lib/backend/js';
import { backendInfo } from '../../lib/index';
import { AWKWARD_SIZES, randInt, relError, rng } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

/** A random SPD matrix XᵀX + small ridge from correlated rows: realistic conditioning. */
export function randomSpd(k: number, seed: number, samples = k + 8): Float64Array {
  const r = rng(seed);
  const x = new Float64Array(samples * k);
  for (let s = 0; s < samples; s++) {
    const common = r() * 2 - 1;
    for (let j = 0; j < k; j++) x[s * k + j] = r() * 2 - 1 + 0.5 * common;
  }
  const h = new Float64Array(k * k);
  for (let s = 0; s < samples; s++)
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) h[i * k + j]! += x[s * k + i]! * x[s * k + j]!;
  for (let i = 0; i < k; i++) h[i * k + i]! += 0.01 * samples;
  return h;
}

describe('choleskyInverseUpper (js reference)', () => {
  test.each([1, 2, 5, 17])('UᵀU = H⁻¹ for k = %i', (k) => {
    const h = randomSpd(k, k);
    const u = new Float64Array(k * k);
    expect(jsBackend.choleskyInverseUpper(h, k, u)).toBe(0);
    // (UᵀU)·H = I
    let maxErr = 0;
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) {
          let hinv = 0;
          for (let q = 0; q < k; q++) hinv += u[q * k + i]! * u[q * k + t]!;
          s += hinv * h[t * k + j]!;
        }
        maxErr = Math.max(maxErr, Math.abs(s - (i === j ? 1 : 0)));
        if (j < i) expect(u[i * k + j]).toBe(0);
      }
    expect(maxErr).toBeLessThan(1e-8);
  });

  test('reports a matrix that is not positive definite', () => {
    const h = Float64Array.from([1, 2, 2, 1]);
    expect(jsBackend.choleskyInverseUpper(h, 2, new Float64Array(4))).toBeGreaterThan(0);
  });
});

describeNative('pruning linear algebra: cpu vs js', () => {
  const cpu = selectBackend('cpu');
  const r = rng(7);
  const sizes = [...AWKWARD_SIZES.filter((s) => s <= 129), randInt(r, 130, 200), 64, 128];

  test.each(sizes)('choleskyInverseUpper k = %i', async (k) => {
    const h = randomSpd(k, 100 + k);
    const ref = new Float64Array(k * k);
    const got = new Float64Array(k * k);
    const gotAsync = new Float64Array(k * k);
    expect(jsBackend.choleskyInverseUpper(h, k, ref)).toBe(0);
    expect(cpu.choleskyInverseUpper(h, k, got)).toBe(0);
    expect(await cpu.choleskyInverseUpperAsync(h, k, gotAsync)).toBe(0);
    expect(relError(got, ref)).toBeLessThan(1e-9);
    expect(relError(gotAsync, ref)).toBeLessThan(1e-9);
  });

  test('native reports the same failing pivot', async () => {
    const k = 9;
    const h = randomSpd(k, 3);
    h[5 * k + 5] = -1;
    const a = jsBackend.choleskyInverseUpper(h, k, new Float64Array(k * k));
    expect(a).toBeGreaterThan(0);
    expect(cpu.choleskyInverseUpper(h, k, new Float64Array(k * k))).toBe(a);
    expect(await cpu.choleskyInverseUpperAsync(h, k, new Float64Array(k * k))).toBe(a);
  });

  const cases: { rows: number; cols: number; n: number; m: number; block: number }[] = [];
  for (let i = 0; i < 14; i++) {
    const m = [0, 0, 4, 8, 2][i % 5]!;
    const n = m === 0 ? 0 : m === 8 ? randInt(r, 1, 7) : m / 2;
    const groups = randInt(r, 1, 24);
    const cols = m === 0 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : groups * m;
    const block = m === 0 ? [1, 7, 16, 128][i % 4]! : m * randInt(r, 1, 5);
    cases.push({ rows: randInt(r, 1, 40), cols, n, m, block });
  }

  test.each(cases)('sparsegptSweep %o', ({ rows, cols, n, m, block }) => {
    const k = cols;
    const h = randomSpd(k, rows * 31 + k);
    const u64 = new Float64Array(k * k);
    jsBackend.choleskyInverseUpper(h, k, u64);
    const u = Float32Array.from(u64);
    const wr = rng(rows + 1000 * k);
    const w = Float32Array.from({ length: rows * cols }, () => wr() * 2 - 1);
    const blocks = Math.ceil(cols / block);
    const counts = new Uint32Array(m === 0 ? blocks : 0);
    for (let b = 0; b < counts.length; b++) counts[b] = Math.round(0.5 * rows * Math.min(block, cols - b * block));
    const plan = { n, m, blockSize: block, pruneCounts: counts };
    const wRef = Float32Array.from(w);
    const wGot = Float32Array.from(w);
    const mRef = new Uint8Array(rows * cols);
    const mGot = new Uint8Array(rows * cols);
    jsBackend.sparsegptSweep(wRef, rows, cols, u, mRef, plan);
    cpu.sparsegptSweep(wGot, rows, cols, u, mGot, plan);
    let maskDiff = 0;
    for (let i = 0; i < mRef.length; i++) if (mRef[i] !== mGot[i]) maskDiff++;
    expect(maskDiff).toBe(0);
    expect(relError(wGot, wRef)).toBeLessThan(1e-5);
  });
});
