/**
 * Pruners on random weights and correlated random calibration data: exact
 * sparsity and pattern, the properties the papers rely on, and bad input.
 */
import { backendInfo, GradualSchedule, prune, SparsennError, Tensor } from '../../lib/index';
import { randInt, rng } from '../helpers';
import { correlatedInputs, expectMasked, expectNm, gram, outputError, zeros } from './helpers';

const native = backendInfo().backend !== 'js';

function expectCode(f: () => unknown, code: string): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(SparsennError);
  expect((err as SparsennError).code).toBe(code);
}

describe('magnitude', () => {
  test('unstructured, layer scope: exactly round(s·size) pruned, all smaller than every kept weight', () => {
    const r = rng(1);
    for (let i = 0; i < 20; i++) {
      const rows = randInt(r, 1, 40);
      const cols = randInt(r, 1, 70);
      const s = [0, 0.1, 0.5, 0.7, 0.9, 0.999][i % 6]!;
      const w = Tensor.random([rows, cols], 10 + i);
      const { weight, mask } = prune.magnitude(w, { sparsity: s });
      expect(zeros(mask)).toBe(Math.round(s * rows * cols));
      expectMasked(weight, mask);
      const v = w.toFloat32();
      let maxPruned = 0;
      let minKept = Infinity;
      for (let j = 0; j < v.length; j++)
        if (mask[j]) minKept = Math.min(minKept, Math.abs(v[j]!));
        else maxPruned = Math.max(maxPruned, Math.abs(v[j]!));
      expect(maxPruned).toBeLessThanOrEqual(minKept);
      // Kept weights are unchanged.
      const p = weight.toFloat32();
      for (let j = 0; j < v.length; j++) if (mask[j]) expect(p[j]).toBe(v[j]);
    }
  });

  test('row scope prunes the same count in every row', () => {
    const w = Tensor.random([13, 37], 3);
    const { mask } = prune.magnitude(w, { sparsity: 0.6, scope: 'row' });
    for (let r = 0; r < 13; r++) expect(zeros(mask.subarray(r * 37, r * 37 + 37))).toBe(Math.round(0.6 * 37));
  });

  test.each([
    [2, 4],
    [1, 4],
    [4, 8],
    [1, 2],
    [3, 7],
  ])('%i:%i keeps exactly N of every M, the largest', (n, m) => {
    const w = Tensor.random([11, m * 9], n * 100 + m);
    const { weight, mask } = prune.magnitude(w, { pattern: `${n}:${m}` as `${number}:${number}` });
    expectNm(mask, 11, m * 9, n, m);
    expectMasked(weight, mask);
    const v = w.toFloat32();
    for (let g = 0; g < v.length; g += m) {
      let maxPruned = 0;
      let minKept = Infinity;
      for (let c = g; c < g + m; c++)
        if (mask[c]) minKept = Math.min(minKept, Math.abs(v[c]!));
        else maxPruned = Math.max(maxPruned, Math.abs(v[c]!));
      expect(maxPruned).toBeLessThanOrEqual(minKept);
    }
  });

  test('N:M on in_features that are not a multiple of M: the last partial group prunes proportionally', () => {
    for (const [n, m, cols] of [
      [4, 8, 172],
      [2, 4, 10],
      [2, 4, 11],
      [1, 3, 8],
      [2, 4, 1],
    ] as const) {
      const w = Tensor.random([7, cols], cols + m);
      const res = prune.magnitude(w, { pattern: `${n}:${m}` as `${number}:${number}` });
      expectNm(res.mask, 7, cols, n, m);
      expectMasked(res.weight, res.mask);
    }
    // 4:8 over 172 inputs (stories260K's down_proj) is still exactly 50%.
    expect(zeros(prune.magnitude(Tensor.random([3, 172], 1), { pattern: '4:8' }).mask)).toBe(3 * 86);
  });

  test('block pattern prunes whole blocks, the lowest by norm', () => {
    const w = Tensor.random([12, 20], 9);
    const { mask } = prune.magnitude(w, { sparsity: 0.5, pattern: { block: [4, 5] } });
    expect(zeros(mask)).toBe(Math.round(0.5 * 12) * 20); // 6 of 12 blocks of 20 elements
    const v = w.toFloat32();
    const norms: { norm: number; kept: number }[] = [];
    for (let br = 0; br < 3; br++)
      for (let bc = 0; bc < 4; bc++) {
        let s = 0;
        let kept = 0;
        for (let r = br * 4; r < br * 4 + 4; r++)
          for (let c = bc * 5; c < bc * 5 + 5; c++) {
            s += v[r * 20 + c]! ** 2;
            kept += mask[r * 20 + c]!;
          }
        expect(kept === 0 || kept === 20).toBe(true);
        norms.push({ norm: s, kept });
      }
    const maxPruned = Math.max(...norms.filter((b) => !b.kept).map((b) => b.norm));
    const minKept = Math.min(...norms.filter((b) => b.kept).map((b) => b.norm));
    expect(maxPruned).toBeLessThanOrEqual(minKept);
  });

  test('global threshold: one cut across layers, exact total count', () => {
    const a = Tensor.random([10, 10], 1, 1);
    const b = Tensor.random([8, 12], 2, 0.1); // small weights: a global threshold prunes these first
    const [ra, rb] = prune.magnitudeGlobal([a, b], { sparsity: 0.5 });
    expect(zeros(ra!.mask) + zeros(rb!.mask)).toBe(Math.round(0.5 * 196));
    expect(zeros(rb!.mask) / 96).toBeGreaterThan(zeros(ra!.mask) / 100);
  });

  test('keeps bf16 / f16 dtype', () => {
    for (const dt of ['bf16', 'f16'] as const) {
      const w = Tensor.random([5, 8], 4).to(dt);
      const { weight, mask } = prune.magnitude(w, { pattern: '2:4' });
      expect(weight.dtype).toBe(dt);
      expectNm(mask, 5, 8, 2, 4);
      expectMasked(weight, mask);
    }
  });
});

describe('random', () => {
  test('exact counts and patterns, seeded', () => {
    const w = Tensor.random([17, 24], 5);
    const a = prune.random(w, { sparsity: 0.3, seed: 7 });
    const b = prune.random(w, { sparsity: 0.3, seed: 7 });
    const c = prune.random(w, { sparsity: 0.3, seed: 8 });
    expect(zeros(a.mask)).toBe(Math.round(0.3 * 17 * 24));
    expect(Array.from(a.mask)).toEqual(Array.from(b.mask));
    expect(Array.from(a.mask)).not.toEqual(Array.from(c.mask));
    expectNm(prune.random(w, { pattern: '2:4' }).mask, 17, 24, 2, 4);
  });
});

describe('wanda', () => {
  test('equals row-wise magnitude when all feature norms are equal', () => {
    const w = Tensor.random([19, 33], 6);
    const norms = new Float32Array(33).fill(2.5);
    const a = prune.wanda(w, norms, { sparsity: 0.5 });
    const b = prune.magnitude(w, { sparsity: 0.5, scope: 'row' });
    expect(Array.from(a.mask)).toEqual(Array.from(b.mask));
    const w2 = Tensor.random([19, 32], 7);
    const c = prune.wanda(w2, norms.subarray(0, 32), { pattern: '2:4' });
    expect(Array.from(c.mask)).toEqual(Array.from(prune.magnitude(w2, { pattern: '2:4' }).mask));
  });

  test('scores by |W|·‖X‖: a feature with a large norm is kept', () => {
    const w = Tensor.random([6, 8], 2);
    const norms = new Float64Array(8).fill(1e-3);
    norms[3] = 1e3;
    const { mask } = prune.wanda(w, norms, { sparsity: 0.75 });
    for (let r = 0; r < 6; r++) {
      expect(mask[r * 8 + 3]).toBe(1);
      expect(zeros(mask.subarray(r * 8, r * 8 + 8))).toBe(6);
    }
  });
});

describe('sparsegpt', () => {
  const cases = [
    { N: 24, K: 48, T: 200, pattern: 'unstructured' as const, sparsity: 0.5 },
    { N: 17, K: 64, T: 96, pattern: '2:4' as const },
    { N: 9, K: 40, T: 300, pattern: '4:8' as const },
    { N: 31, K: 37, T: 150, pattern: 'unstructured' as const, sparsity: 0.7 },
    { N: 13, K: 44, T: 150, pattern: '4:8' as const }, // a last partial group of 4
    { N: 8, K: 30, T: 90, pattern: '2:4' as const }, // a last partial group of 2
  ];

  test.each(cases)('exact pattern, and lower reconstruction error than magnitude: %o', ({ N, K, T, pattern, sparsity }) => {
    for (let seed = 1; seed <= 3; seed++) {
      const x = correlatedInputs(T, K, seed);
      const h = gram(x, T, K);
      const w = Tensor.random([N, K], 50 + seed);
      const opts = pattern === 'unstructured' ? { sparsity, pattern, blockSize: 16 } : { pattern };
      const sg = prune.sparsegpt(w, h, opts);
      const mag = prune.magnitude(w, pattern === 'unstructured' ? { sparsity } : { pattern });
      expectMasked(sg.weight, sg.mask);
      if (pattern === 'unstructured') expect(zeros(sg.mask)).toBe(Math.round(sparsity! * N * K));
      else {
        const [n, m] = pattern.split(':').map(Number) as [number, number];
        expectNm(sg.mask, N, K, n, m);
      }
      const eSg = outputError(w, sg.weight, x, T);
      const eMag = outputError(w, mag.weight, x, T);
      expect(eSg).toBeLessThan(eMag);
      // The library's H-based error agrees with the direct one.
      expect(prune.reconstructionError(w, sg.weight, h, K)).toBeCloseTo(eSg, 2);
    }
  });

  test('async form and the js backend give the same result as the default backend', async () => {
    const x = correlatedInputs(80, 32, 4);
    const h = gram(x, 80, 32);
    const w = Tensor.random([10, 32], 8);
    const a = prune.sparsegpt(w, h, { sparsity: 0.5, blockSize: 8 });
    const b = await prune.sparsegptAsync(w, h, { sparsity: 0.5, blockSize: 8 });
    const c = prune.sparsegpt(w, h, { sparsity: 0.5, blockSize: 8, backend: 'js' });
    expect(Array.from(b.mask)).toEqual(Array.from(a.mask));
    expect(Array.from(c.mask)).toEqual(Array.from(a.mask));
    const av = a.weight.toFloat32();
    const cv = c.weight.toFloat32();
    let num = 0;
    let den = 0;
    for (let i = 0; i < av.length; i++) {
      num += (av[i]! - cv[i]!) ** 2;
      den += cv[i]! ** 2;
    }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
    if (!native) console.warn('sparsegpt: native addon not loaded; default backend was js');
  });

  test('a Hessian that is not positive definite is dampened more, and said so; never NaN', () => {
    const K = 12;
    const h = new Float64Array(K * K);
    for (let i = 0; i < K; i++) for (let j = 0; j < K; j++) h[i * K + j] = i === j ? 1 : 0.9;
    h[0] = 0.001; // with the strong couplings below: indefinite
    for (let j = 1; j < K; j++) {
      h[j] = 3;
      h[j * K] = 3;
    }
    const w = Tensor.random([5, K], 3);
    const r = prune.sparsegpt(w, h, { sparsity: 0.5 });
    expect(r.dampening).toBeGreaterThan(0.01);
    expect(r.notes.join(' ')).toMatch(/not positive definite/);
    for (const v of r.weight.toFloat32()) expect(Number.isFinite(v)).toBe(true);
    expect(zeros(r.mask)).toBe(Math.round(0.5 * 5 * K));
  });

  test('inputs never active in calibration are pruned first', () => {
    const K = 8;
    const x = correlatedInputs(50, K, 2);
    for (let t = 0; t < 50; t++) x[t * K + 5] = 0;
    const w = Tensor.random([6, K], 1);
    const r = prune.sparsegpt(w, gram(x, 50, K), { sparsity: 0.25 });
    for (let row = 0; row < 6; row++) expect(r.mask[row * K + 5]).toBe(0);
    expect(r.notes.join(' ')).toMatch(/never active/);
  });
});

describe('dsnot', () => {
  test.each(['unstructured', '2:4', '4:8'] as const)('never increases the error and keeps the %s pattern', (pattern) => {
    for (let seed = 1; seed <= 4; seed++) {
      const N = 12;
      const K = seed === 4 ? 36 : 32; // 36: a partial last group for 4:8
      const T = 120;
      const x = correlatedInputs(T, K, 20 + seed);
      const h = gram(x, T, K);
      const w = Tensor.random([N, K], 70 + seed);
      const sp = pattern === 'unstructured' ? { sparsity: 0.6 } : {};
      const starts = [
        prune.magnitude(w, { ...sp, pattern }),
        prune.wanda(w, new Float64Array(K).map((_, j) => Math.sqrt(h[j * K + j]!)), { ...sp, pattern }),
        prune.sparsegpt(w, h, { ...sp, pattern }),
        prune.random(w, { ...sp, pattern, seed }),
      ];
      for (const start of starts) {
        const refined = prune.dsnot(w, start, h, { pattern });
        const before = outputError(w, start.weight, x, T);
        const after = outputError(w, refined.weight, x, T);
        expect(after).toBeLessThanOrEqual(before * (1 + 1e-6));
        expect(zeros(refined.mask)).toBe(zeros(start.mask));
        expectMasked(refined.weight, refined.mask);
        if (pattern !== 'unstructured') {
          const [n, m] = pattern.split(':').map(Number) as [number, number];
          expectNm(refined.mask, N, K, n, m);
        } else {
          for (let r = 0; r < N; r++)
            expect(zeros(refined.mask.subarray(r * K, r * K + K))).toBe(zeros(start.mask.subarray(r * K, r * K + K)));
        }
      }
      // From magnitude (no weight updates) there is room to improve: DSnoT must find swaps.
      const fromMag = prune.dsnot(w, starts[0]!, h, { pattern });
      expect(fromMag.swaps).toBeGreaterThan(0);
      expect(outputError(w, fromMag.weight, x, T)).toBeLessThan(outputError(w, starts[0]!.weight, x, T));
    }
  });
});

describe('large layers (matmul paths for the error and DSnoT gradients, native SparseGPT at K = 768)', () => {
  test('DSnoT still never increases the error; the f32 error agrees with the direct one', () => {
    const N = 40;
    const K = 768;
    const T = 160;
    const x = correlatedInputs(T, K, 5);
    const h = gram(x, T, K);
    const w = Tensor.random([N, K], 9);
    const sg = prune.sparsegpt(w, h, { sparsity: 0.5 });
    const mag = prune.magnitude(w, { sparsity: 0.5 });
    expect(zeros(sg.mask)).toBe(N * K * 0.5);
    const eSg = outputError(w, sg.weight, x, T);
    const eMag = outputError(w, mag.weight, x, T);
    expect(eSg).toBeLessThan(eMag);
    expect(Math.abs(prune.reconstructionError(w, mag.weight, h, K) - eMag) / eMag).toBeLessThan(1e-3);
    const refined = prune.dsnot(w, mag, h);
    expect(refined.swaps).toBeGreaterThan(0);
    expect(outputError(w, refined.weight, x, T)).toBeLessThanOrEqual(eMag * (1 + 1e-6));
    expect(zeros(refined.mask)).toBe(zeros(mag.mask));
  }, 120000);
});

describe('GradualSchedule (Zhu & Gupta 2017)', () => {
  test('follows s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³ at pruning steps, holds between them', () => {
    const s = new GradualSchedule({ initialSparsity: 0.1, finalSparsity: 0.8, startStep: 10, pruningSteps: 5, frequency: 4 });
    expect(s.sparsityAt(0)).toBe(0.1);
    expect(s.sparsityAt(10)).toBeCloseTo(0.1, 12);
    for (let t = 10; t <= 30; t += 4) {
      const expected = 0.8 + (0.1 - 0.8) * (1 - (t - 10) / 20) ** 3;
      expect(s.sparsityAt(t)).toBeCloseTo(expected, 12);
      expect(s.sparsityAt(t + 1)).toBeCloseTo(expected, 12);
    }
    expect(s.sparsityAt(30)).toBeCloseTo(0.8, 12);
    expect(s.sparsityAt(1000)).toBeCloseTo(0.8, 12);
    for (let t = 0; t < 40; t++) expect(s.sparsityAt(t + 1)).toBeGreaterThanOrEqual(s.sparsityAt(t));
  });

  test('masks only grow, even when training moves pruned weights back', () => {
    const s = new GradualSchedule({ finalSparsity: 0.9, pruningSteps: 6, frequency: 2 });
    let w = Tensor.random([9, 14], 1);
    const r = rng(3);
    let prev: Uint8Array | undefined;
    for (let t = 0; t < 16; t++) {
      const out = s.step({ fc: w });
      const res = out.pruned.fc;
      if (res) {
        expect(zeros(res.mask)).toBe(Math.round(out.sparsity * 126));
        if (prev) for (let i = 0; i < prev.length; i++) if (!prev[i]) expect(res.mask[i]).toBe(0);
        prev = res.mask;
        w = res.weight;
      }
      // A "training step": every weight moves, including pruned ones.
      const v = Float32Array.from(w.toFloat32(), (x) => x + (r() - 0.5) * 0.5);
      w = new Tensor(v, [9, 14]);
    }
    expect(zeros(prev!)).toBe(Math.round(0.9 * 126));
  });
});

describe('bad input', () => {
  const w = Tensor.random([4, 8], 1);
  test.each([
    [() => prune.magnitude(w, { sparsity: 1 }), 'ERR_ARG'],
    [() => prune.magnitude(w, { sparsity: -0.1 }), 'ERR_ARG'],
    [() => prune.magnitude(w, { sparsity: NaN }), 'ERR_ARG'],
    [() => prune.magnitude(w, { pattern: '4:4' as `${number}:${number}` }), 'ERR_ARG'],
    [() => prune.magnitude(w, { pattern: '5:4' as `${number}:${number}` }), 'ERR_ARG'],
    [() => prune.magnitude(w, { pattern: '2:4', sparsity: 0.3 }), 'ERR_ARG'],
    [() => prune.magnitude(w, { sparsity: 0.5, pattern: { block: [3, 3] } }), 'ERR_PATTERN'],
    [() => prune.magnitude(w, { sparsity: 0.5, bogus: 1 } as never), 'ERR_ARG'],
    [() => prune.magnitude(Tensor.random([8], 1), { sparsity: 0.5 }), 'ERR_SHAPE'],
    [() => prune.magnitude(new Tensor(Float32Array.from([1, NaN]), [1, 2]), { sparsity: 0.5 }), 'ERR_ARG'],
    [() => prune.magnitude('w' as never, { sparsity: 0.5 }), 'ERR_ARG'],
    [() => prune.wanda(w, new Float32Array(7), { sparsity: 0.5 }), 'ERR_SHAPE'],
    [() => prune.wanda(w, new Float32Array(8).fill(-1), { sparsity: 0.5 }), 'ERR_ARG'],
    [() => prune.sparsegpt(w, new Float64Array(63), { sparsity: 0.5 }), 'ERR_SHAPE'],
    [() => prune.sparsegpt(w, Tensor.random([8, 7], 1), { sparsity: 0.5 }), 'ERR_SHAPE'],
    [() => prune.sparsegpt(w, new Float64Array(64).fill(NaN), { sparsity: 0.5 }), 'ERR_ARG'],
    [() => prune.sparsegpt(w, new Float64Array(64), { sparsity: 0.5, dampening: 0 }), 'ERR_ARG'],
    [() => prune.sparsegpt(w, new Float64Array(64), { sparsity: 0.5, blockSize: 0 }), 'ERR_ARG'],
    [() => prune.dsnot(w, { weight: w, mask: new Uint8Array(3) }, new Float64Array(64)), 'ERR_SHAPE'],
    [() => new GradualSchedule({ finalSparsity: 1, pruningSteps: 3 }), 'ERR_ARG'],
    [() => new GradualSchedule({ finalSparsity: 0.5, pruningSteps: 0 }), 'ERR_ARG'],
  ] as [() => unknown, string][])('case %#', (f, code) => expectCode(f, code));

  test('an all-zero Hessian (no calibration signal) is handled, not NaN', () => {
    const r = prune.sparsegpt(w, new Float64Array(64), { sparsity: 0.5 });
    expect(zeros(r.mask)).toBe(16);
    for (const v of r.weight.toFloat32()) expect(Number.isFinite(v)).toBe(true);
  });
});
