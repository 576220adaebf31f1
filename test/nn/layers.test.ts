/** rmsnorm, layernorm, activations, softmax, rope against their textbook formulas. */
import { geluTanh, silu, swiglu } from '../../lib/nn/activations';
import { layernorm } from '../../lib/nn/layernorm';
import { rmsnorm } from '../../lib/nn/rmsnorm';
import { applyRope } from '../../lib/nn/rope';
import { softmax } from '../../lib/nn/softmax';
import { relError, rng } from '../helpers';

const r = rng(9);
const rand = (n: number, scale = 1, offset = 0) => Float32Array.from({ length: n }, () => offset + (r() * 2 - 1) * scale);

test('rmsnorm: each row has unit RMS before the gain', () => {
  const x = rand(3 * 7, 3);
  const g = rand(7, 0.5, 1);
  const y = rmsnorm(x, g, 1e-5);
  for (let row = 0; row < 3; row++) {
    let ss = 0;
    for (let i = 0; i < 7; i++) ss += (y[row * 7 + i]! / g[i]!) ** 2;
    expect(Math.sqrt(ss / 7)).toBeCloseTo(1, 4);
    expect(Math.sign(y[row * 7]! / g[0]!)).toBe(Math.sign(x[row * 7]!));
  }
});

test('layernorm: zero mean, unit variance, then gain and bias', () => {
  const x = rand(2 * 9, 4, 2);
  const g = new Float32Array(9).fill(1);
  const b = new Float32Array(9).fill(0);
  const y = layernorm(x, g, b, 1e-6);
  for (let row = 0; row < 2; row++) {
    const v = Array.from(y.subarray(row * 9, row * 9 + 9));
    const mean = v.reduce((a, c) => a + c, 0) / 9;
    expect(mean).toBeCloseTo(0, 5);
    expect(v.reduce((a, c) => a + (c - mean) ** 2, 0) / 9).toBeCloseTo(1, 4);
  }
  const g2 = rand(9, 0.5, 1);
  const b2 = rand(9);
  const y2 = layernorm(x, g2, b2, 1e-6);
  for (let i = 0; i < 9; i++) expect(y2[i]).toBeCloseTo(y[i]! * g2[i]! + b2[i]!, 5);
});

test('activations', () => {
  expect(silu(0)).toBe(0);
  expect(silu(2)).toBeCloseTo(2 / (1 + Math.exp(-2)), 10);
  const g = Float32Array.from([1, -1, 3]);
  const u = Float32Array.from([2, 2, -1]);
  expect(Array.from(swiglu(g, u))).toEqual(Array.from(Float32Array.from([silu(1) * 2, silu(-1) * 2, -silu(3)])));
  const x = Float32Array.from([0, 1, -3]);
  geluTanh(x);
  expect(x[0]).toBe(0);
  expect(x[1]).toBeCloseTo(0.8412, 3);
  expect(x[2]).toBeCloseTo(-0.0036, 3);
});

test('softmax sums to one and is stable for large inputs', () => {
  const x = Float64Array.from([1000, 1001, 999]);
  softmax(x);
  expect(x.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  expect(x[1]).toBeGreaterThan(x[0]!);
});

test('rope: position 0 is the identity, norms are preserved, and q·k depends only on the offset', () => {
  for (const layout of ['interleaved', 'half'] as const) {
    const x = rand(2 * 8);
    const y = new Float32Array(x);
    applyRope(y, 0, 2, 8, 0, 10000, layout);
    expect(relError(y, x)).toBe(0);
    applyRope(y, 0, 2, 8, 13, 10000, layout);
    const n = (a: Float32Array) => Math.hypot(...a);
    expect(n(y)).toBeCloseTo(n(x), 4);
    const q = rand(8);
    const k = rand(8);
    const dot = (p: number, s: number) => {
      const qq = new Float32Array(q);
      const kk = new Float32Array(k);
      applyRope(qq, 0, 1, 8, p, 10000, layout);
      applyRope(kk, 0, 1, 8, s, 10000, layout);
      return qq.reduce((a, v, i) => a + v * kk[i]!, 0);
    };
    expect(dot(10, 7)).toBeCloseTo(dot(5, 2), 4);
  }
});
