/**
 * The fused steps of Double Sparsity (labelSelectDecode) and Quest (questSelectDecode): the choice
 * and the decode attention over it in one call (native: one task per KV head when the heads fill
 * the cores, else the two calls), against the two calls they replace and the js reference. Checks:
 *  - the same token lists everywhere;
 *  - on cpu, the same output bits as labelSelect + attentionDecode whenever attentionDecode keeps
 *    each head's selection in one chunk (at most 512 tokens a head here);
 *  - within f32 tolerance of js;
 *  - through the policy's decodeLayer;
 *  - coded errors, through the op and straight into the addon.
 */
import type { KvCacheView } from '../../lib/attention/contract';
import { DoubleSparsityPolicy } from '../../lib/attention/double_sparsity';
import { attentionDecode, labelCacheUpdate, labelSelect, labelSelectDecode, questPageBounds, questSelect, questSelectDecode } from '../../lib/attention/ops';
import { createAttentionPolicy } from '../../lib/attention/create';
import type { MixedPolicy } from '../../lib/attention/mixed';
import { QuestPolicy } from '../../lib/attention/quest';
import { codeColumns, SELECT_TILE, type LabelRows, type LabelSelectDecodeArgs, type QuestSelectDecodeArgs, type ScaledInt8Rows } from '../../lib/attention/selection_contract';
import type { BackendChoice } from '../../lib/backend/types';
import { nativeBinding } from '../../lib/backend/native';
import { backendInfo, setThreads } from '../../lib/index';
import { Tensor } from '../../lib/tensor';
import { randomKv } from '../attention/make';
import { codeOf, randInt, relError, rng, tolerance } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;
if (!native) console.warn('fused selection + decode parity skipped: no native addon loaded');

/** Label rows of tokens [0, kv.length) built by the js reference. */
function labelsOf(kv: KvCacheView, channels: Uint32Array, width: number, bits: 4 | 8): LabelRows {
  const capacity = Math.ceil((kv.length + 5) / SELECT_TILE) * SELECT_TILE;
  const labels: LabelRows = {
    data: new Int8Array(kv.kvHeads * capacity * codeColumns({ width, bits })),
    scales: new Float32Array(kv.kvHeads * capacity),
    kvHeads: kv.kvHeads,
    capacity,
    width,
    bits,
  };
  labelCacheUpdate({ kv, channels, labels, begin: 0, end: kv.length }, { backend: 'js' });
  return labels;
}

type Case = Omit<LabelSelectDecodeArgs, 'items' | 'out'>;

function randomCase(r: () => number, kvHeads: number, group: number, dtype: 'f32' | 'f16' | 'bf16', seed: number, maxK: number): Case {
  const D = [8, 32, 64][randInt(r, 0, 2)]!;
  const length = randInt(r, 2, 3000);
  const kv = randomKv(kvHeads, length, D, dtype, seed, r() < 0.5 ? 'head' : 'token');
  const width = randInt(r, 1, Math.min(D, 20));
  const bits = r() < 0.5 ? 4 : 8;
  const channels = Uint32Array.from({ length: kvHeads * width }, () => randInt(r, 0, D - 1));
  const heads = kvHeads * group;
  const q = Tensor.random([heads * D], seed + 1, 2).data as Float32Array;
  const n = length - 1;
  return { q, heads, headDim: D, channels, labels: labelsOf(kv, channels, width, bits), n, k: randInt(r, 0, Math.min(n, maxK)), kv, scale: 1 / Math.sqrt(D) };
}

function fused(c: Case, backend: BackendChoice) {
  const items = new Uint32Array(c.labels.kvHeads * (c.k + 1)).fill(0xffffffff);
  const out = new Float32Array(c.heads * c.headDim).fill(NaN);
  labelSelectDecode({ ...c, items, out }, { backend });
  return { items, out };
}

function twoCalls(c: Case) {
  const items = new Uint32Array(c.labels.kvHeads * (c.k + 1)).fill(0xffffffff);
  const out = new Float32Array(c.heads * c.headDim).fill(NaN);
  labelSelect({ ...c, items }, { backend: 'cpu' });
  const offsets = Uint32Array.from({ length: c.labels.kvHeads + 1 }, (_, h) => h * (c.k + 1));
  attentionDecode({ q: c.q, heads: c.heads, kv: c.kv, selection: { kind: 'indices', offsets, items }, scale: c.scale, out }, { backend: 'cpu' });
  return { items, out };
}

const sameBits = (a: Float32Array, b: Float32Array) => a.every((x, i) => Object.is(x, b[i]));

interface Step {
  items: Uint32Array;
  out: Float32Array;
}

/**
 * A policy's decodeLayer (budget 300 of 2000 cached tokens, 8 KV heads of 64, GQA 4) against its
 * selectLayer + attentionDecode, bit for bit; false when the budget covers the cache (position 250)
 * or when the caller's attention runs on another backend.
 */
function expectDecodeLayer(policy: DoubleSparsityPolicy | QuestPolicy, pos: number, seed: number): void {
  setThreads(2);
  const D = 64;
  const kv = randomKv(8, 2000, D, 'f16', seed);
  const q = Tensor.random([32 * D], seed + 1, 2).data as Float32Array;
  const scale = 1 / Math.sqrt(D);
  const a = new Float32Array(32 * D);
  expect(policy.decodeLayer(0, q, 32, kv, pos, scale, a)).toBe(true);
  const b = new Float32Array(32 * D);
  attentionDecode({ q, heads: 32, kv, selection: policy.selectLayer(0, q, 32, kv, pos), scale, out: b }, { backend: 'cpu' });
  expect(sameBits(a, b)).toBe(true);
  expect(policy.decodeLayer(0, q, 32, kv, 250, scale, a)).toBe(false);
  expect(policy.decodeLayer(0, q, 32, kv, pos, scale, a, 'js')).toBe(false);
}

/** The fused call (cpu) against the two calls (the same lists and bits) and against js (the same lists, f32 tolerance). */
function expectFusedMatches(one: Step, two: Step, ref: Step, what: string): void {
  if (!one.items.every((x, i) => x === two.items[i])) throw new Error(`${what}: lists differ from the two calls`);
  if (!one.items.every((x, i) => x === ref.items[i])) throw new Error(`${what}: lists differ from js`);
  if (!sameBits(one.out, two.out)) throw new Error(`${what}: output bits differ from the two calls`);
  const err = relError(one.out, ref.out);
  if (!(err <= tolerance('f32'))) throw new Error(`${what}: rel error ${err} against js`);
}

describeNative('labelSelectDecode: one call vs the two it replaces, and vs js', () => {
  afterAll(() => setThreads(2));

  test.each([1, 2])('%i thread(s): KV heads 1-8 (per-head tasks and the two-call path), GQA 1/4/5, every cache dtype', (threads) => {
    setThreads(threads);
    const r = rng(40 + threads);
    let seed = 900;
    for (const kvHeads of [1, 2, 3, 8])
      for (const group of [1, 4, 5])
        for (const dtype of ['f32', 'f16', 'bf16'] as const) {
          const c = randomCase(r, kvHeads, group, dtype, (seed += 3), 511);
          const what = `threads=${threads} kvh=${kvHeads} G=${group} ${dtype} D=${c.headDim} n=${c.n} k=${c.k} r=${c.labels.width} ${c.labels.bits}-bit`;
          expectFusedMatches(fused(c, 'cpu'), twoCalls(c), fused(c, 'js'), what);
        }
  });

  test('heads of more than one chunk: the same lists, outputs within f32 rounding of the two calls', () => {
    setThreads(2);
    const r = rng(7);
    const c = randomCase(r, 8, 4, 'f16', 31, 5000);
    const long = { ...c, k: Math.min(c.n, 1500) };
    const one = fused(long, 'cpu');
    const two = twoCalls(long);
    expect(Array.from(one.items)).toEqual(Array.from(two.items));
    expect(relError(one.out, two.out)).toBeLessThanOrEqual(tolerance('f32'));
  });

  test("the policy's decodeLayer writes what selectLayer + attentionDecode give; declines when the budget covers the cache or the backends differ", () => {
    expectDecodeLayer(new DoubleSparsityPolicy({ budget: 300, labelChannels: 8 }), 1999, 5);
  });

  test('coded errors, before anything is written', () => {
    const r = rng(3);
    const c = randomCase(r, 2, 4, 'f32', 77, 10);
    const items = new Uint32Array(2 * (c.k + 1));
    const out = new Float32Array(c.heads * c.headDim).fill(5);
    const ok = { ...c, items, out };
    for (const backend of ['js', 'cpu'] as const) {
      expect(codeOf(() => labelSelectDecode({ ...ok, n: c.kv.length, k: 0 }, { backend }))).toBe('ERR_ARG'); // token n not in the cache
      expect(codeOf(() => labelSelectDecode({ ...ok, kv: { ...c.kv, headDim: c.headDim + 1 } }, { backend }))).toBe('ERR_SHAPE');
      expect(codeOf(() => labelSelectDecode({ ...ok, out: new Float32Array(3) }, { backend }))).toBe('ERR_SHAPE');
      expect(codeOf(() => labelSelectDecode({ ...ok, scale: NaN }, { backend }))).toBe('ERR_ARG');
      expect(codeOf(() => labelSelectDecode({ ...ok, items: new Uint32Array(1) }, { backend }))).toBe('ERR_SHAPE');
    }
    expect(out.every((x) => x === 5)).toBe(true);
    const b = nativeBinding()!;
    const { labels, kv } = c;
    const call = (n: number, outArr: Float32Array, scale: number) =>
      b.attentionLabelSelectDecode(c.q, c.heads, c.headDim, c.channels, labels.data, labels.scales, labels.kvHeads, labels.width, labels.capacity, n, 0, items, labels.bits,
        kv.k, kv.v, 0, kv.length, kv.headStride, kv.tokenStride, scale, outArr);
    expect(() => call(kv.length, out, c.scale)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => call(c.n, new Float32Array(3), c.scale)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => call(c.n, out, -1)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(out.every((x) => x === 5)).toBe(true);
  });
});

type QuestCase = Omit<QuestSelectDecodeArgs, 'items' | 'out'>;

function randomQuestCase(r: () => number, kvHeads: number, group: number, dtype: 'f32' | 'f16' | 'bf16', seed: number, maxTokens: number): QuestCase {
  const D = [8, 32, 64][randInt(r, 0, 2)]!;
  const pageSize = [1, 3, 16][randInt(r, 0, 2)]!;
  const length = randInt(r, pageSize + 1, 1500);
  const kv = randomKv(kvHeads, length, D, dtype, seed, r() < 0.5 ? 'head' : 'token');
  const complete = Math.floor(length / pageSize);
  const capacity = Math.ceil((complete + 3) / SELECT_TILE) * SELECT_TILE;
  const bounds: ScaledInt8Rows = { data: new Int8Array(kvHeads * capacity * 2 * D), scales: new Float32Array(kvHeads * capacity), kvHeads, capacity, width: 2 * D };
  questPageBounds({ kv, pageSize, bounds, pageBegin: 0, pageEnd: complete }, { backend: 'js' });
  const current = Math.ceil(length / pageSize) - 1;
  const heads = kvHeads * group;
  const q = Tensor.random([heads * D], seed + 1, 2).data as Float32Array;
  const keep = randInt(r, 0, Math.min(current, Math.floor(maxTokens / pageSize) - 1));
  return { q, heads, bounds, current, keep, pageSize, kv, scale: 1 / Math.sqrt(D) };
}

function questFused(c: QuestCase, backend: BackendChoice) {
  const items = new Uint32Array(c.bounds.kvHeads * (c.keep + 1)).fill(0xffffffff);
  const out = new Float32Array(c.heads * c.kv.headDim).fill(NaN);
  questSelectDecode({ ...c, items, out }, { backend });
  return { items, out };
}

function questTwoCalls(c: QuestCase) {
  const items = new Uint32Array(c.bounds.kvHeads * (c.keep + 1)).fill(0xffffffff);
  const out = new Float32Array(c.heads * c.kv.headDim).fill(NaN);
  questSelect({ q: c.q, heads: c.heads, bounds: c.bounds, current: c.current, keep: c.keep, items }, { backend: 'cpu' });
  const offsets = Uint32Array.from({ length: c.bounds.kvHeads + 1 }, (_, h) => h * (c.keep + 1));
  attentionDecode({ q: c.q, heads: c.heads, kv: c.kv, selection: { kind: 'pages', offsets, items, pageSize: c.pageSize }, scale: c.scale, out }, { backend: 'cpu' });
  return { items, out };
}

describeNative('questSelectDecode: one call vs the two it replaces, and vs js', () => {
  afterAll(() => setThreads(2));

  test.each([1, 2])('%i thread(s): KV heads 1-8, GQA 1/4/5, pages of 1/3/16 (the current one cut), every cache dtype', (threads) => {
    setThreads(threads);
    const r = rng(60 + threads);
    let seed = 1900;
    for (const kvHeads of [1, 2, 3, 8])
      for (const group of [1, 4, 5])
        for (const dtype of ['f32', 'f16', 'bf16'] as const) {
          const c = randomQuestCase(r, kvHeads, group, dtype, (seed += 3), 512);
          const what = `threads=${threads} kvh=${kvHeads} G=${group} ${dtype} D=${c.kv.headDim} len=${c.kv.length} page=${c.pageSize} current=${c.current} keep=${c.keep}`;
          expectFusedMatches(questFused(c, 'cpu'), questTwoCalls(c), questFused(c, 'js'), what);
        }
  });

  test("the policy's decodeLayer writes what selectLayer + attentionDecode give; declines when the budget covers the cache or the backends differ", () => {
    expectDecodeLayer(new QuestPolicy({ budget: 300, pageSize: 16 }), 1994, 15);
  });

  test('coded errors, before anything is written', () => {
    const c = randomQuestCase(rng(9), 2, 4, 'f32', 88, 64);
    const items = new Uint32Array(2 * (c.keep + 1));
    const out = new Float32Array(c.heads * c.kv.headDim).fill(5);
    const ok = { ...c, items, out };
    for (const backend of ['js', 'cpu'] as const) {
      expect(codeOf(() => questSelectDecode({ ...ok, kv: { ...c.kv, length: c.current * c.pageSize } }, { backend }))).toBe('ERR_ARG'); // page current past the cache
      expect(codeOf(() => questSelectDecode({ ...ok, kv: { ...c.kv, headDim: c.kv.headDim + 1 } }, { backend }))).toBe('ERR_SHAPE');
      expect(codeOf(() => questSelectDecode({ ...ok, out: new Float32Array(3) }, { backend }))).toBe('ERR_SHAPE');
      expect(codeOf(() => questSelectDecode({ ...ok, scale: 0 }, { backend }))).toBe('ERR_ARG');
      expect(codeOf(() => questSelectDecode({ ...ok, items: new Uint32Array(1) }, { backend }))).toBe('ERR_SHAPE');
    }
    expect(out.every((x) => x === 5)).toBe(true);
    const b = nativeBinding()!;
    const { bounds, kv } = c;
    const call = (length: number, pageSize: number, outArr: Float32Array) =>
      b.attentionQuestSelectDecode(c.q, c.heads, kv.headDim, bounds.data, bounds.scales, bounds.kvHeads, bounds.capacity, c.current, c.keep, items, pageSize,
        kv.k, kv.v, 0, length, kv.headStride, kv.tokenStride, c.scale, outArr);
    expect(() => call(c.current * c.pageSize, c.pageSize, out)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => call(kv.length, 0, out)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => call(kv.length, c.pageSize, new Float32Array(3))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(out.every((x) => x === 5)).toBe(true);
  });
});

describeNative('a policy map', () => {
  test("decodes a layer through its one policy's fused step, and declines for per-head mixes and policies without one", () => {
    setThreads(2);
    const D = 64;
    const kv = randomKv(8, 2000, D, 'f16', 25);
    const q = Tensor.random([32 * D], 26, 2).data as Float32Array;
    const scale = 1 / Math.sqrt(D);
    const map = createAttentionPolicy({
      default: { policy: 'doubleSparsity', budget: 300, labelChannels: 8 },
      layers: { 1: { policy: 'full' } },
      heads: { '2:0': { policy: 'quest', budget: 300 } },
    }) as MixedPolicy;
    const a = new Float32Array(32 * D);
    expect(map.decodeLayer(0, q, 32, kv, 1999, scale, a)).toBe(true);
    const b = new Float32Array(32 * D);
    attentionDecode({ q, heads: 32, kv, selection: map.selectLayer(0, q, 32, kv, 1999), scale, out: b }, { backend: 'cpu' });
    expect(sameBits(a, b)).toBe(true);
    expect(map.decodeLayer(1, q, 32, kv, 1999, scale, a)).toBe(false);
    expect(map.decodeLayer(2, q, 32, kv, 1999, scale, a)).toBe(false);
  });
});
