/**
 * Sparse-attention policies: each selects what its paper says, each equals dense attention when
 * its budget covers the context, and the needle test proves the selection is real.
 */
import type { KvCacheView } from '../../lib/attention/contract';
import { createAttentionPolicy } from '../../lib/attention/create';
import { calibrateLabelChannels, DoubleSparsityPolicy } from '../../lib/attention/double_sparsity';
import { FullPolicy } from '../../lib/attention/full';
import { MixedPolicy } from '../../lib/attention/mixed';
import { attentionDistanceProfile, fitMoaSpans, MoaPolicy } from '../../lib/attention/moa';
import { attentionDecode } from '../../lib/attention/ops';
import { selectionTokens, SparsePolicy, topK, type SparseAttentionPolicy } from '../../lib/attention/policy';
import { PageBounds, QuestPolicy } from '../../lib/attention/quest';
import { questQueryCodes } from '../../lib/attention/quest_query';
import { evictStreaming, StreamingPolicy } from '../../lib/attention/streaming';
import { TidalPolicy } from '../../lib/attention/tidal';
import { bf16ToF32, f32ToBf16 } from '../../lib/dtype';
import { SparsennError } from '../../lib/errors';
import { KvCache } from '../../lib/generate/kv_cache';
import { Tensor } from '../../lib/tensor';
import { relError, rng } from '../helpers';
import { randomKv } from './make';

function decode(policy: SparseAttentionPolicy, layer: number, q: Float32Array, heads: number, kv: KvCacheView): Float32Array {
  const out = new Float32Array(heads * kv.headDim);
  const selection = policy.selectLayer(layer, q, heads, kv, kv.length - 1);
  attentionDecode({ q, heads, kv, selection, scale: 1 / Math.sqrt(kv.headDim), out });
  return out;
}

const full = new FullPolicy();

describe('budget >= context equals dense attention', () => {
  const heads = 8;
  const kv = randomKv(2, 301, 32, 'f16', 5);
  const q = Tensor.random([heads * 32], 6).data as Float32Array;
  const dense = decode(full, 0, q, heads, kv);
  const policies: Array<[string, SparseAttentionPolicy, number]> = [
    ['streaming', new StreamingPolicy({ sinks: 4, window: 301 }), 0],
    ['quest', new QuestPolicy({ budget: 301, pageSize: 16 }), 0],
    ['quest page 7', new QuestPolicy({ budget: 400, pageSize: 7 }), 0],
    ['doubleSparsity', new DoubleSparsityPolicy({ budget: 301 }), 0],
    ['tidal reuse layer', new TidalPolicy({ budget: 301, selectionLayers: [0] }), 1],
    ['moa', new MoaPolicy({ spans: [[{ alpha: 0, beta: 1 }, { alpha: 301, beta: 0 }]] }), 0],
  ];
  test.each(policies)('%s', (_name, policy, layer) => {
    if (layer > 0) decode(policy, 0, q, heads, kv);
    const got = decode(policy, layer, q, heads, kv);
    expect(relError(got, dense)).toBeLessThanOrEqual(1e-6);
  });
  test('a budget below the context does change the result (the check above can fail)', () => {
    const got = decode(new StreamingPolicy({ sinks: 1, window: 20 }), 0, q, heads, kv);
    expect(relError(got, dense)).toBeGreaterThan(1e-3);
  });
});

describe('selections follow the papers', () => {
  const kv = randomKv(1, 1000, 16, 'f32', 9);
  const q = Tensor.random([4 * 16], 10).data as Float32Array;
  const req = (layer = 0, pos = 999) => ({ layer, kvHead: 0, pos, queries: q, kv });

  test('streaming keeps exactly the sinks and the window', () => {
    const toks = selectionTokens(new StreamingPolicy({ sinks: 4, window: 10 }).selectHead(req()), 1000)!;
    expect(toks).toEqual([0, 1, 2, 3, 990, 991, 992, 993, 994, 995, 996, 997, 998, 999]);
  });

  test('streaming eviction keeps sinks + window in place', () => {
    const c = randomKv(2, 50, 4, 'f32', 3, 'head', 50);
    const k = Float32Array.from(c.k as Float32Array);
    const n = evictStreaming(k, Float32Array.from(c.v as Float32Array), 2, c.headStride, 4, 50, 2, 5);
    expect(n).toBe(7);
    for (let h = 0; h < 2; h++) {
      expect(Array.from(k.subarray(h * 200, h * 200 + 8))).toEqual(Array.from((c.k as Float32Array).subarray(h * 200, h * 200 + 8)));
      expect(Array.from(k.subarray(h * 200 + 8, h * 200 + 28))).toEqual(Array.from((c.k as Float32Array).subarray(h * 200 + 180, h * 200 + 200)));
    }
  });

  test("Quest's page bound really upper-bounds q̃·k of every key in the page (q̃: q rounded to 8 bits)", () => {
    const b = new PageBounds(16, 1, 16);
    b.update(kv, 1000);
    const c = questQueryCodes(q, 0, 16);
    const rounded = Array.from({ length: 16 }, (_, d) => (c.codes[d]! - c.codes[16 + d]!) * c.unit);
    let maxQ = 0;
    for (let d = 0; d < 16; d++) {
      maxQ = Math.max(maxQ, Math.abs(q[d]!));
      expect(Math.abs(rounded[d]! - q[d]!)).toBeLessThanOrEqual((0.5 + 1e-6) * c.unit); // half a code step
    }
    expect(c.unit).toBeCloseTo(maxQ / 255, 6);
    let tight = 0;
    for (let p = 0; p < 62; p++) {
      const bound = b.bound(q, 0, 0, p);
      let best = -Infinity;
      for (let t = p * 16; t < (p + 1) * 16; t++) {
        let s = 0;
        for (let d = 0; d < 16; d++) s += rounded[d]! * (kv.k as Float32Array)[t * 16 + d]!;
        expect(s).toBeLessThanOrEqual(bound + 1e-5 * Math.abs(bound));
        best = Math.max(best, s);
      }
      tight += best / bound;
    }
    expect(tight / 62).toBeGreaterThan(0.3); // a bound, not a vacuous one
  });

  test('Quest reads the best-bounded pages plus the current page, within budget', () => {
    const policy = new QuestPolicy({ budget: 16 * 6, pageSize: 16 });
    const s = policy.selectHead(req());
    if (s.kind !== 'pages') throw new Error('expected pages');
    const pages = Array.from(s.pages);
    expect(pages[pages.length - 1]).toBe(62); // the current, partial page (1000 = 62·16 + 8)
    // 96 tokens budget - 8 in the current page = 5 whole pages more
    expect(pages.length).toBe(6);
    const b = policy.pageBounds(kv, 0, 1000);
    const scores = Float32Array.from({ length: 62 }, (_, p) => Math.max(...[0, 1, 2, 3].map((g) => b.bound(q, g * 16, 0, p))));
    expect(pages.slice(0, -1)).toEqual(Array.from(topK(scores, 5)));
  });

  test.each(['f16', 'bf16'] as const)('Quest and Double Sparsity read %s caches as their f32 values', (dtype) => {
    const half = randomKv(2, 777, 16, dtype, 12);
    const wide = { ...half, dtype: 'f32' as const, k: new Tensor(half.k as Uint16Array, [half.k.length], dtype).toFloat32(), v: new Tensor(half.v as Uint16Array, [half.v.length], dtype).toFloat32() };
    const q8 = Tensor.random([8 * 16], 13).data as Float32Array;
    for (const make of [() => new QuestPolicy({ budget: 100, pageSize: 16 }), () => new DoubleSparsityPolicy({ budget: 50, labelChannels: 4 })]) {
      expect(make().selectLayer(0, q8, 8, half, 776)).toEqual(make().selectLayer(0, q8, 8, wide, 776));
    }
  });

  test('Double Sparsity calibration picks the channels that carry q·k', () => {
    const D = 8;
    const r = rng(1);
    const qs = Float32Array.from({ length: 50 * D }, (_, i) => (r() - 0.5) * (i % D === 3 ? 10 : 1));
    const ks = Float32Array.from({ length: 50 * D }, (_, i) => (r() - 0.5) * (i % D === 6 ? 10 : i % D === 3 ? 5 : 1));
    expect(Array.from(calibrateLabelChannels(qs, ks, D, 2)).sort()).toEqual([3, 6]);
  });

  test('Double Sparsity ranks tokens by label-channel scores and keeps the newest', () => {
    // 8-bit label codes rank these tokens as their float labels do; the default 4-bit codes are
    // coarser (their scores are checked bit for bit against the reference in the selection parity
    // test, their recall in the needle test).
    const policy = new DoubleSparsityPolicy({ budget: 10, channels: [[[0, 5]]], labelBits: 8 });
    const s = policy.selectHead(req());
    if (s.kind !== 'indices') throw new Error('expected indices');
    const approx = new Float32Array(999);
    for (let t = 0; t < 999; t++) {
      let best = -Infinity;
      // Near enough to the int8 label codes to give the same top 9 here.
      const label = (c: number) => bf16ToF32(f32ToBf16((kv.k as Float32Array)[t * 16 + c]!));
      for (let g = 0; g < 4; g++) best = Math.max(best, Math.fround(q[g * 16]! * label(0) + q[g * 16 + 5]! * label(5)));
      approx[t] = best;
    }
    expect(Array.from(s.tokens)).toEqual([...Array.from(topK(approx, 9)), 999]);
  });

  test('TidalDecode: dense before the selection layer, reuse after it', () => {
    const policy = new TidalPolicy({ budget: 20, selectionLayers: [1] });
    expect(policy.selectHead(req(0)).kind).toBe('all');
    expect(policy.selectHead(req(1)).kind).toBe('all'); // selection layers run full attention
    const s = policy.selectHead(req(2));
    if (s.kind !== 'indices') throw new Error('expected indices');
    expect(s.tokens.length).toBe(20);
    expect(policy.selectHead(req(3, 998)).kind).toBe('all'); // no selection for another position yet
  });

  test('MoA spans: elastic window per head after the sinks', () => {
    const policy = new MoaPolicy({ spans: [[{ alpha: 10, beta: 0.01 }]], sinks: 2 });
    const toks = selectionTokens(policy.selectHead(req()), 1000)!;
    expect(toks.length).toBe(2 + 20);
    expect(toks.slice(0, 3)).toEqual([0, 1, 980]);
  });

  test('MoA search gives long spans to heads whose attention reaches far, within the budget', () => {
    const L = 512;
    const local = Float64Array.from({ length: L }, (_, d) => Math.exp(-d / 4));
    const far = Float64Array.from({ length: L }, () => 1);
    const spans = fitMoaSpans([[local, far]], L, { density: 0.5, sinks: 0 });
    expect(spans[0]![0]!.beta).toBeLessThan(spans[0]![1]!.beta);
    expect((spans[0]![0]!.beta + spans[0]![1]!.beta) / 2).toBeLessThanOrEqual(0.5 + 1e-9);
    const prof = attentionDistanceProfile(q, kv, 0, 999);
    expect(prof.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  test('a per-layer / per-head map routes each head to its policy', () => {
    const map = createAttentionPolicy({
      default: { policy: 'full' },
      layers: { 1: { policy: 'streaming', sinks: 1, window: 3 } },
      heads: { '1:0': { policy: 'quest', budget: 32 } },
    }) as MixedPolicy;
    expect(map.policyFor(0, 0).name).toBe('full');
    expect(map.policyFor(1, 1).name).toBe('streaming');
    expect(map.policyFor(1, 0).name).toBe('quest');
  });

  test('bad specs are coded errors', () => {
    expect(() => createAttentionPolicy({ policy: 'nope' } as never)).toThrow(SparsennError);
    expect(() => createAttentionPolicy({ policy: 'quest', budget: 0 })).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => createAttentionPolicy({ policy: 'quest', budget: 8, typo: 1 } as never)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});

describe('needle at 32K keys', () => {
  const L = 32768;
  const D = 64;
  const heads = 4;
  const needleAt = 12345;
  const kv = randomKv(1, L, D, 'f32', 77);
  const k = kv.k as Float32Array;
  const v = kv.v as Float32Array;
  for (let i = 0; i < k.length; i++) k[i]! *= 0.3;
  const q = Tensor.random([heads * D], 78).data as Float32Array;
  let q0n = 0;
  for (let d = 0; d < D; d++) q0n += q[d]! * q[d]!;
  for (let d = 0; d < D; d++) {
    k[needleAt * D + d] = (q[d]! * 30 * Math.sqrt(D)) / q0n; // scaled score 30 for query head 0
    v[needleAt * D + d] = 5;
  }
  const needleValue = new Float32Array(D).fill(5);
  const head0 = (out: Float32Array) => out.subarray(0, D);

  const retrievers: Array<[string, SparseAttentionPolicy, number]> = [
    ['quest', new QuestPolicy({ budget: 512 }), 0],
    ['doubleSparsity', new DoubleSparsityPolicy({ budget: 512 }), 0],
    ['tidal', new TidalPolicy({ budget: 512, selectionLayers: [0] }), 1],
  ];
  test.each(retrievers)('%s finds it with a 1/64 budget', (_n, policy, layer) => {
    if (layer > 0) decode(policy, 0, q, heads, kv);
    const out = decode(policy, layer, q, heads, kv);
    expect(relError(head0(out), needleValue)).toBeLessThan(0.05);
  });

  test('streaming does not (the needle is outside its window)', () => {
    const out = decode(new StreamingPolicy({ sinks: 4, window: 508 }), 0, q, heads, kv);
    expect(relError(head0(out), needleValue)).toBeGreaterThan(0.5);
  });

  test('dense attention finds it too (the needle is real)', () => {
    expect(relError(head0(decode(full, 0, q, heads, kv)), needleValue)).toBeLessThan(0.05);
  });
});

describe('the model seam (lib/nn/attention.ts AttentionPolicy)', () => {
  test('selectKeys reads the model cache and returns positions <= pos', () => {
    const cache = new KvCache(2, 2, 8, 256, 64);
    cache.reserve(100);
    const src = Tensor.random([2 * 8 * 100], 4).data as Float32Array;
    for (let p = 0; p < 100; p++) cache.write(1, p, src, src, (p % 50) * 16);
    const q = Tensor.random([2 * 8], 5).data as Float32Array;
    const policy: SparsePolicy = new QuestPolicy({ budget: 32, pageSize: 8 });
    const keys = policy.selectKeys({ layer: 1, kvHead: 1, pos: 90, queries: q, cache })!;
    expect(keys.length).toBe(24 + 3); // 3 whole pages + the current page's 3 tokens (88..90)
    expect(Math.max(...Array.from(keys))).toBe(90);
    expect(new StreamingPolicy({ sinks: 2, window: 1000 }).selectKeys({ layer: 0, kvHead: 0, pos: 9, queries: q, cache })).toBeNull();
  });
});
