/**
 * Parity: the native Cholesky-inverse factor and SparseGPT sweep against the js
 * reference, on random SPD matrices / weights of awkward sizes.
 */
import { selectBackend } from '../../lib/backend/select';
import { jsBackend } from '../../lib/backend/js';
import { nativeBinding } from '../../lib/backend/native';
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
    // Every other N:M case ends in a partial group.
    const cols = m === 0 ? AWKWARD_SIZES[randInt(r, 0, AWKWARD_SIZES.length - 1)]! : groups * m + (i % 2 ? randInt(r, 1, m - 1) : 0);
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

describeNative('pruning binding rejects bad arguments with coded errors (never a crash)', () => {
  const b = nativeBinding()!;
  const f32 = (n: number) => new Float32Array(n);
  const counts = new Uint32Array(4);
  test.each([
    ['h too short', () => b.choleskyInverseUpper(new Float64Array(3), 2, new Float64Array(4)), 'ERR_SHAPE'],
    ['h not f64', () => b.choleskyInverseUpper(new Float32Array(4) as never, 2, new Float64Array(4)), 'ERR_DTYPE'],
    ['k negative', () => b.choleskyInverseUpper(new Float64Array(4), -1, new Float64Array(4)), 'ERR_SHAPE'],
    ['w too short', () => b.sparsegptSweep(f32(5), 2, 3, f32(9), new Uint8Array(6), 0, 0, 2, counts), 'ERR_SHAPE'],
    ['u too short', () => b.sparsegptSweep(f32(6), 2, 3, f32(8), new Uint8Array(6), 0, 0, 2, counts), 'ERR_SHAPE'],
    ['mask too short', () => b.sparsegptSweep(f32(6), 2, 3, f32(9), new Uint8Array(5), 0, 0, 2, counts), 'ERR_SHAPE'],
    ['counts too short', () => b.sparsegptSweep(f32(6), 2, 3, f32(9), new Uint8Array(6), 0, 0, 1, new Uint32Array(2)), 'ERR_SHAPE'],
    ['n >= m', () => b.sparsegptSweep(f32(8), 2, 4, f32(16), new Uint8Array(8), 4, 4, 4, counts), 'ERR_ARG'],
    ['block not a multiple of m', () => b.sparsegptSweep(f32(6), 2, 3, f32(9), new Uint8Array(6), 1, 2, 3, counts), 'ERR_ARG'],
    ['block 0', () => b.sparsegptSweep(f32(6), 2, 3, f32(9), new Uint8Array(6), 0, 0, 0, counts), 'ERR_ARG'],
    ['mask wrong type', () => b.sparsegptSweep(f32(6), 2, 3, f32(9), new Uint16Array(6) as never, 0, 0, 2, counts), 'ERR_DTYPE'],
  ] as [string, () => unknown, string][])('%s', (_name, f, code) => {
    let err: { code?: string } | undefined;
    try {
      f();
    } catch (e) {
      err = e as { code?: string };
    }
    expect(err?.code).toBe(code);
  });

  test('counts larger than a block are clamped, not out of bounds', () => {
    const w = Float32Array.from({ length: 6 }, (_, i) => i + 1);
    const u = Float32Array.from([1, 0.1, 0.2, 0, 1, 0.3, 0, 0, 1]);
    const mask = new Uint8Array(6);
    b.sparsegptSweep(w, 2, 3, u, mask, 0, 0, 2, Uint32Array.from([1000, 1000]));
    expect(Array.from(mask)).toEqual([0, 0, 0, 0, 0, 0]);
  });
});
