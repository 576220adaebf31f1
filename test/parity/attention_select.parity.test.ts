/**
 * Parity of the fused Quest / Double Sparsity selection (native/cpu/attention_select*.cc) against
 * the js reference (lib/backend/js/attention_select.ts): page bounds (int8 codes and scales) and
 * label rows bit for bit;
 * Quest scores bit for bit and identical page lists (its scores are exact integer sums, see
 * lib/attention/quest_query.ts); Double Sparsity 4-bit and int8 labels and scales bit for bit,
 * scores bit for bit (exact integer sums of 8-bit query codes and the label codes, on the VNNI path
 * when the width is a multiple of 4 (int8) or 8 (4-bit) and the generic one otherwise) and identical lists including the tie order. Random awkward shapes: odd lengths, GQA 1/4/8 (and 3/5 for Quest), pages cut mid-way, f32/f16/bf16 caches
 * in both layouts. Plus coded errors for bad arguments, through the ops and straight into the addon.
 */
import type { KvCacheView } from '../../lib/attention/contract';
import type { LabelSelectArgs } from '../../lib/attention/selection_contract';
import { labelCacheUpdate, labelSelect, questPageBounds, questSelect } from '../../lib/attention/ops';
import { codeColumns, labelCode, SELECT_TILE, selectScoresLength, type LabelRows, type ScaledInt8Rows } from '../../lib/attention/selection_contract';
import { nativeBinding } from '../../lib/backend/native';
import { backendInfo } from '../../lib/index';
import { Tensor } from '../../lib/tensor';
import { randomKv } from '../attention/make';
import { codeOf, randInt, rng } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;
const DTYPES = ['f32', 'f16', 'bf16'] as const;

/** Label rows of 4- or 8-bit codes and scales, the unwritten ones garbage. */
function labelRows(kvHeads: number, rows: number, width: number, extra: number, bits: 4 | 8): LabelRows {
  const capacity = Math.ceil((rows + extra) / SELECT_TILE) * SELECT_TILE;
  const columns = codeColumns({ width, bits });
  return { data: new Int8Array(kvHeads * capacity * columns).fill(-55), scales: new Float32Array(kvHeads * capacity).fill(NaN), kvHeads, capacity, width, bits };
}

/** Page-bound rows, int8 codes and scales, the unwritten ones garbage. */
function boundRows(kvHeads: number, rows: number, width: number, extra: number): ScaledInt8Rows {
  const capacity = Math.ceil((rows + extra) / SELECT_TILE) * SELECT_TILE;
  return { data: new Int8Array(kvHeads * capacity * width).fill(77), scales: new Float32Array(kvHeads * capacity).fill(NaN), kvHeads, capacity, width };
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && Array.prototype.every.call(a, (x: number, i: number) => Object.is(x, b[i]));

/** Checks `got` holds, per head, a top-k of `ref` scores (ascending, then `last`), allowing swaps within eps. */
function expectTopK(ref: Float32Array, got: Uint32Array, kvHeads: number, n: number, k: number, last: number, what: string): void {
  const stride = selectScoresLength(1, n);
  let maxAbs = 0;
  for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i]!)) maxAbs = Math.max(maxAbs, Math.abs(ref[i]!));
  const eps = 1e-5 * Math.max(1, maxAbs);
  for (let h = 0; h < kvHeads; h++) {
    const list = Array.from(got.subarray(h * (k + 1), (h + 1) * (k + 1)));
    if (list[k] !== last) throw new Error(`${what}: head ${h} does not end with ${last}`);
    const chosen = list.slice(0, k);
    for (let i = 1; i < k; i++) if (!(chosen[i]! > chosen[i - 1]!)) throw new Error(`${what}: head ${h} not strictly ascending`);
    const s = ref.subarray(h * stride, h * stride + n);
    const inSet = new Uint8Array(n);
    for (const c of chosen) {
      if (c >= n) throw new Error(`${what}: head ${h} chose ${c} >= ${n}`);
      inSet[c] = 1;
    }
    let minIn = Infinity;
    let maxOut = -Infinity;
    for (let i = 0; i < n; i++) {
      const v = Number.isNaN(s[i]!) ? -Infinity : s[i]!; // NaN ranks last
      if (inSet[i]) minIn = Math.min(minIn, v);
      else maxOut = Math.max(maxOut, v);
    }
    if (k > 0 && k < n && !(minIn >= maxOut - eps)) throw new Error(`${what}: head ${h} left out a score ${maxOut} above a chosen ${minIn}`);
  }
}

interface Case {
  kv: KvCacheView;
  heads: number;
  q: Float32Array;
  label: string;
}

function randomCase(r: () => number, dtype: (typeof DTYPES)[number], group: number, seed: number, length: number): Case {
  const kvHeads = randInt(r, 1, 3);
  const heads = kvHeads * group;
  const D = [1, 3, 16, 17, 64, 128][randInt(r, 0, 5)]!;
  const layout = r() < 0.5 ? 'head' : 'token';
  const kv = randomKv(kvHeads, length, D, dtype, seed, layout, length + randInt(r, 0, 5));
  const q = Tensor.random([heads * D], seed + 1, 2).data as Float32Array;
  return { kv, heads, q, label: `${dtype} G=${group} kvh=${kvHeads} D=${D} len=${length} ${layout}` };
}

/** Quest page choice on every backend: scores bit for bit and the same lists (the integer scores are exact). */
function expectSameQuestSelect(q: Float32Array, heads: number, bounds: ScaledInt8Rows, current: number, keep: number, what: string): void {
  const outs = (['js', 'cpu'] as const).map((backend) => {
    const scores = new Float32Array(selectScoresLength(bounds.kvHeads, current) + 3);
    const items = new Uint32Array(bounds.kvHeads * (keep + 1)).fill(0xffffffff);
    questSelect({ q, heads, bounds, current, keep, scores, items }, { backend });
    return { scores, items };
  });
  const [js, cpu] = outs as [(typeof outs)[0], (typeof outs)[0]];
  const mask = (s: Float32Array) => s.filter((_, i) => i % selectScoresLength(1, current) < current);
  const a = mask(js.scores);
  const b = mask(cpu.scores);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) throw new Error(`${what}: page score ${i} differs: js ${a[i]} cpu ${b[i]}`);
  if (!same(js.items, cpu.items)) throw new Error(`${what}: page lists differ`);
  expectTopK(js.scores, cpu.items, bounds.kvHeads, current, keep, current, what);
  // Without a scores buffer (as the policies call it: the kernel scores into its own): the same lists.
  const items = new Uint32Array(bounds.kvHeads * (keep + 1)).fill(0xffffffff);
  questSelect({ q, heads, bounds, current, keep, items }, { backend: 'cpu' });
  if (!same(items, cpu.items)) throw new Error(`${what}: page lists differ without a scores buffer`);
}

describeNative('Quest page bounds and page choice: cpu vs js', () => {
  test.each(DTYPES)('%s cache', (dtype) => {
    const r = rng(dtype.length * 31);
    let seed = 100;
    // GQA 3 and 5 too: the AVX-512 Quest kernel takes queries in chunks of up to 4.
    for (const group of [1, 3, 4, 5, 8])
      for (let rep = 0; rep < 4; rep++) {
        const length = [1, 17, 100, 333, 1001, 2500][randInt(r, 0, 5)]! + rep;
        const c = randomCase(r, dtype, group, (seed += 2), length);
        const pageSize = [16, 7, 32, 1][rep]!;
        const full = Math.floor(length / pageSize);
        const ref = boundRows(c.kv.kvHeads, full, 2 * c.kv.headDim, randInt(r, 0, 40));
        const got: ScaledInt8Rows = { ...ref, data: ref.data.slice(), scales: ref.scales.slice() };
        // Bounds built in two steps (pages cut mid-way through a tile), as a decoding loop does.
        const mid = randInt(r, 0, full);
        for (const [b, e] of [[0, mid], [mid, full]] as const)
          for (const [bounds, backend] of [[ref, 'js'], [got, 'cpu']] as const)
            questPageBounds({ kv: c.kv, pageSize, bounds, pageBegin: b, pageEnd: e }, { backend });
        if (!same(ref.data, got.data) || !same(ref.scales, got.scales)) throw new Error(`${c.label} P=${pageSize}: bounds differ`);

        const current = Math.ceil(length / pageSize) - 1;
        const keep = randInt(r, 0, current);
        expectSameQuestSelect(c.q, c.heads, ref, current, keep, `${c.label} P=${pageSize} keep=${keep}`);
      }
  });

  // Random int8 codes and scales straight into the selection: head dims that are not a multiple of 4
  // (the generic path) and past 512 (the int32 path), GQA 1/3/4/8, odd page counts, and query heads
  // that are zero, subnormal, NaN, infinite or hit the round-half-even ties of the 8-bit codes.
  test('random bounds, every head dim path, special queries', () => {
    const r = rng(77);
    for (const D of [1, 3, 4, 17, 64, 128, 130, 520])
      for (const group of [1, 3, 4, 8]) {
        const kvHeads = randInt(r, 1, 3);
        const heads = kvHeads * group;
        const current = randInt(r, 1, 90);
        const bounds = boundRows(kvHeads, current, 2 * D, randInt(r, 0, 20));
        for (let i = 0; i < bounds.data.length; i++) bounds.data[i] = randInt(r, -128, 127);
        for (let i = 0; i < bounds.scales.length; i++) bounds.scales[i] = i % 29 === 3 ? Infinity : i % 31 === 5 ? 0 : r() * 0.02;
        const q = Tensor.random([heads * D], D * 7 + group, 3).data as Float32Array;
        const special = randInt(r, 0, 5);
        const g = randInt(r, 0, heads - 1);
        const row = q.subarray(g * D, (g + 1) * D);
        if (special === 1) row.fill(0);
        else if (special === 2) row.forEach((x, i) => (row[i] = x * 1e-40));
        else if (special === 3) row[randInt(r, 0, D - 1)] = NaN;
        else if (special === 4) row[randInt(r, 0, D - 1)] = -Infinity;
        else if (special === 5) row.forEach((_, i) => (row[i] = [2, 1, -1, 3, -0.5, 0][i % 6]!)); // codes 255, 127.5 -> 128, ...
        const keep = randInt(r, 0, current);
        expectSameQuestSelect(q, heads, bounds, current, keep, `random bounds D=${D} G=${group} kvh=${kvHeads} n=${current} special=${special}`);
      }
  });

  test('long rows: 2K-4K pages per head, GQA 4 at D=128 (the VNNI kernel two tiles at a time, threads over chunks)', () => {
    const r = rng(5);
    for (const current of [2047, 4099]) {
      const bounds = boundRows(2, current, 256, 16);
      for (let i = 0; i < bounds.data.length; i++) bounds.data[i] = randInt(r, -127, 127);
      for (let i = 0; i < bounds.scales.length; i++) bounds.scales[i] = 0.001 + r() * 0.01;
      const q = Tensor.random([8 * 128], current, 2).data as Float32Array;
      expectSameQuestSelect(q, 8, bounds, current, current >> 4, `n=${current}`);
    }
  });
});

/** Double Sparsity token choice on every backend: scores bit for bit and the same lists. */
function expectSameLabelSelect(a: Omit<LabelSelectArgs, 'scores' | 'items'>, what: string): void {
  const kvHeads = a.labels.kvHeads;
  const outs = (['js', 'cpu'] as const).map((backend) => {
    const scores = new Float32Array(selectScoresLength(kvHeads, a.n) + 3);
    const items = new Uint32Array(kvHeads * (a.k + 1)).fill(0xffffffff);
    labelSelect({ ...a, scores, items }, { backend });
    return { scores, items };
  });
  const [js, cpu] = outs as [(typeof outs)[0], (typeof outs)[0]];
  const stride = selectScoresLength(1, a.n);
  for (let i = 0; i < js.scores.length; i++)
    if (i % stride < a.n && !Object.is(js.scores[i], cpu.scores[i])) throw new Error(`${what}: token score ${i} differs: js ${js.scores[i]} cpu ${cpu.scores[i]}`);
  if (!same(js.items, cpu.items)) throw new Error(`${what}: token lists differ`);
  expectTopK(js.scores, cpu.items, kvHeads, a.n, a.k, a.n, what);
  // Without a scores buffer (as the policies call it: the kernel scores into its own): the same lists.
  const items = new Uint32Array(kvHeads * (a.k + 1)).fill(0xffffffff);
  labelSelect({ ...a, items }, { backend: 'cpu' });
  if (!same(items, cpu.items)) throw new Error(`${what}: token lists differ without a scores buffer`);
}

/** Label rows of tokens [0, length) built by both backends (in two calls split at mid), checked bit for bit; the js rows. */
function sameLabels(kv: KvCacheView, channels: Uint32Array, width: number, extra: number, mid: number, what: string, bits: 4 | 8): LabelRows {
  const ref = labelRows(kv.kvHeads, kv.length, width, extra, bits);
  const got: LabelRows = { ...ref, data: ref.data.slice(), scales: ref.scales.slice() };
  for (const [b, e] of [[0, mid], [mid, kv.length]] as const)
    for (const [labels, backend] of [[ref, 'js'], [got, 'cpu']] as const) labelCacheUpdate({ kv, channels, labels, begin: b, end: e }, { backend });
  if (!same(ref.data, got.data)) throw new Error(`${what}: label codes differ`);
  if (!same(ref.scales, got.scales)) throw new Error(`${what}: label scales differ`);
  return ref;
}

const BITS = [4, 8] as const;
const DTYPE_BITS = DTYPES.flatMap((d) => BITS.map((b) => [d, b] as const));

describeNative('Double Sparsity label cache and token choice: cpu vs js', () => {
  test.each(DTYPE_BITS)('%s cache, %i-bit labels', (dtype, bits) => {
    const r = rng(dtype.length * 57 + bits);
    let seed = 500;
    for (const group of [1, 4, 8])
      for (let rep = 0; rep < 4; rep++) {
        const length = rep === 3 ? 20011 : [1, 2, 17, 100, 333, 1001, 4099][randInt(r, 0, 6)]! + rep; // long rows take the sampled pre-filter
        const c = randomCase(r, dtype, group, (seed += 2), length);
        const D = c.kv.headDim;
        // Widths that are and are not multiples of 4 and 8 (the VNNI kernels take those), odd ones.
        const width = rep === 2 ? Math.min(D, 16) : randInt(r, 1, Math.min(D, 20));
        const channels = Uint32Array.from({ length: c.kv.kvHeads * width }, () => randInt(r, 0, D - 1));
        const labels = sameLabels(c.kv, channels, width, randInt(r, 0, 40), randInt(r, 0, length), `${c.label} r=${width} ${bits}-bit`, bits);
        const n = length - 1;
        const k = rep === 3 ? randInt(r, 1, n >> 3) : randInt(r, 0, n);
        expectSameLabelSelect({ q: c.q, heads: c.heads, headDim: D, channels, labels, n, k }, `${c.label} r=${width} k=${k}`);
      }
  });

  test.each(BITS)('Llama shapes (r = 16 of 128, GQA 4), lengths past the pre-filter thresholds, %i-bit labels', (bits) => {
    const r = rng(77);
    for (const length of [1025, 8193, 40000]) {
      const kv = randomKv(2, length, 128, 'f16', length);
      const q = Tensor.random([8 * 128], length + 1, 2).data as Float32Array;
      const channels = Uint32Array.from({ length: 2 * 16 }, () => randInt(r, 0, 127));
      const labels = sameLabels(kv, channels, 16, 0, length >> 1, `len=${length}`, bits);
      expectSameLabelSelect({ q, heads: 8, headDim: 128, channels, labels, n: length - 1, k: (length >> 4) - 1 }, `len=${length}`);
    }
  });

  test.each(BITS)('every GQA group size 1-9 at the widths whose codes stay in registers (r = 4, 8, 16), rows across 1024-token chunks, %i-bit labels', (bits) => {
    // The VNNI kernel keeps a block of up to 4 query heads' codes in registers over chunks of 64
    // tiles and carries the running max through the later blocks: groups of 5-9 end on partial blocks.
    const r = rng(83 + bits);
    for (const group of [1, 2, 3, 4, 5, 6, 7, 8, 9])
      for (const width of [4, 8, 16]) {
        const length = randInt(r, 1025, 2600);
        const kv = randomKv(2, length, 32, 'f16', length + group);
        const q = Tensor.random([2 * group * 32], length + width, 2).data as Float32Array;
        const channels = Uint32Array.from({ length: 2 * width }, () => randInt(r, 0, 31));
        const labels = sameLabels(kv, channels, width, randInt(r, 0, 40), length >> 1, `G=${group} r=${width} ${bits}-bit`, bits);
        expectSameLabelSelect({ q, heads: 2 * group, headDim: 32, channels, labels, n: length - 1, k: randInt(r, 1, length >> 3) }, `G=${group} r=${width} ${bits}-bit`);
      }
  });

  test.each(BITS)('rows past one 64K window of the top-k collect: distinct scores, k at the pre-filter bounds, %i-bit labels', (bits) => {
    const r = rng(91);
    const length = 70001;
    const [D, width, group] = [16, 8, 4];
    const kv = randomKv(1, length, D, 'f32', 4242);
    const q = Tensor.random([group * D], 4243, 2).data as Float32Array;
    const channels = Uint32Array.from({ length: width }, () => randInt(r, 0, D - 1));
    const labels = sameLabels(kv, channels, width, 0, length >> 1, `len=${length} ${bits}-bit`, bits);
    const n = length - 1;
    for (const k of [1, (n >> 4) - 1, n >> 2, (n >> 2) + 1])
      expectSameLabelSelect({ q, heads: group, headDim: D, channels, labels, n, k }, `len=${length} ${bits}-bit k=${k}`);
  });

  test('4-bit codes: nibble packing and the ±7 grid', () => {
    // Token t of head 0 has label channels (t - 7, 7 - t, 0.9): every code from -7 to 7 appears
    // in both nibbles, a token's largest |k| maps to exactly ±7, and 0.9 never lands on a half.
    const D = 5;
    const length = 15;
    const k = new Float32Array(length * D);
    for (let t = 0; t < length; t++) {
      k[t * D] = t - 7;
      k[t * D + 1] = 7 - t;
      k[t * D + 2] = 0.9;
    }
    const kv: KvCacheView = { k, v: k, dtype: 'f32', kvHeads: 1, length, headDim: D, headStride: length * D, tokenStride: D };
    const channels = Uint32Array.of(0, 1, 2);
    const labels = sameLabels(kv, channels, 3, 0, 7, '4-bit grid', 4);
    for (let t = 0; t < length; t++) {
      const m = Math.max(0.9, Math.abs(t - 7));
      const codes = [0, 1, 2].map((c) => labelCode(labels, 0, t, c));
      const want = [t - 7, 7 - t, 0.9].map((x) => Math.round((x / m) * 7) + 0); // (+0: no -0 in the comparison)
      expect(codes).toEqual(want);
    }
  });

  test('zero, NaN and infinite keys and queries', () => {
    for (const width of [3, 8]) {
      const D = 12;
      const kv = randomKv(2, 300, D, 'f32', width);
      const k = kv.k as Float32Array;
      const channels = Uint32Array.from({ length: 2 * width }, (_, i) => i % D);
      // a zero token, a NaN and an infinite label channel, a subnormal token, a huge one
      k.fill(0, 5 * D, 6 * D);
      k[7 * D] = NaN;
      k[300 * D + 9 * D + 1] = -Infinity;
      for (let d = 0; d < D; d++) k[11 * D + d] = 1e-42 * (d + 1);
      k[13 * D] = 3e38;
      for (const bits of BITS) {
        const labels = sameLabels(kv, channels, width, 5, 100, `r=${width} ${bits}-bit`, bits);
        expect(Number.isNaN(labels.scales[7])).toBe(true);
        const heads = 8;
        const base = Tensor.random([heads * D], 4, 2).data as Float32Array;
        const queries: Array<[string, Float32Array]> = [['random', base], ['zero', new Float32Array(heads * D)]];
        const nanQ = base.slice();
        nanQ[2 * D] = NaN; // head 2 (KV head 0's group): its label channel 0 is NaN
        queries.push(['NaN query', nanQ]);
        const infQ = base.slice();
        infQ[5 * D + 1] = Infinity;
        queries.push(['infinite query', infQ]);
        for (const [name, q] of queries)
          for (const kk of [0, 1, 18, 299]) expectSameLabelSelect({ q, heads, headDim: D, channels, labels, n: 299, k: kk }, `r=${width} ${bits}-bit ${name} k=${kk}`);
      }
    }
  });

  test('exact scores with many ties: the same lists, ties to the lower token', () => {
    const r = rng(9);
    for (const [kvHeads, group, n] of [[1, 1, 40], [2, 4, 3000], [3, 8, 777], [1, 2, 70000]] as const) {
      const D = 8;
      const width = 4;
      const heads = kvHeads * group;
      // Small integers: many tokens get the same codes and scale, so scores tie exactly and often.
      const k32 = Float32Array.from({ length: kvHeads * (n + 1) * D }, () => randInt(r, -3, 3));
      const kv: KvCacheView = { k: k32, v: k32, dtype: 'f32', kvHeads, length: n + 1, headDim: D, headStride: (n + 1) * D, tokenStride: D };
      const q = Float32Array.from({ length: heads * D }, () => randInt(r, -2, 2) || 1);
      const channels = Uint32Array.from({ length: kvHeads * width }, (_, i) => (i * 3) % D);
      for (const bits of BITS) {
        const labels = sameLabels(kv, channels, width, 0, n >> 1, `ties n=${n} ${bits}-bit`, bits);
        for (const k of [0, 1, Math.floor(n / 16), n - 1, n]) expectSameLabelSelect({ q, heads, headDim: D, channels, labels, n, k }, `ties n=${n} ${bits}-bit k=${k}`);
      }
    }
  });
});

describe('bad selection arguments are coded errors', () => {
  const kv = randomKv(2, 100, 8, 'f16', 1);
  const bounds = boundRows(2, 6, 16, 0);
  const q = Tensor.random([4 * 8], 2).data as Float32Array;
  const backends = native ? (['js', 'cpu'] as const) : (['js'] as const);
  test.each(backends)('through the ops (%s)', (backend) => {
    const o = { backend };
    const sel = { q, heads: 4, bounds, current: 5, keep: 2, scores: new Float32Array(32), items: new Uint32Array(6) };
    expect(codeOf(() => questSelect({ ...sel, keep: 6 }, o))).toBe('ERR_ARG');
    expect(codeOf(() => questSelect({ ...sel, current: 17 }, o))).toBe('ERR_ARG');
    expect(codeOf(() => questSelect({ ...sel, heads: 3 }, o))).toBe('ERR_SHAPE');
    expect(codeOf(() => questSelect({ ...sel, items: new Uint32Array(5) }, o))).toBe('ERR_SHAPE');
    expect(codeOf(() => questSelect({ ...sel, scores: new Float32Array(31) }, o))).toBe('ERR_SHAPE'); // optional, but whole when given
    expect(codeOf(() => questSelect({ ...sel, bounds: { ...bounds, capacity: 15 } }, o))).toBe('ERR_SHAPE');
    expect(codeOf(() => questPageBounds({ kv, pageSize: 16, bounds, pageBegin: 0, pageEnd: 7 }, o))).toBe('ERR_ARG');
    const labels = labelRows(2, 100, 2, 0, 8);
    const lab = { q, heads: 4, headDim: 8, channels: Uint32Array.of(0, 1, 2, 8), labels, n: 99, k: 5, scores: new Float32Array(256), items: new Uint32Array(12) };
    expect(codeOf(() => labelSelect(lab, o))).toBe('ERR_ARG');
    expect(codeOf(() => labelCacheUpdate({ kv, channels: Uint32Array.of(0, 1, 2, 3), labels, begin: 0, end: 101 }, o))).toBe('ERR_ARG');
    expect(codeOf(() => labelSelect({ ...lab, channels: Uint32Array.of(0, 1, 2, 3), labels: { ...labels, scales: new Float32Array(3) } }, o))).toBe('ERR_SHAPE');
    const bf16Labels = { ...labels, data: new Uint16Array(labels.data.length) } as unknown as LabelRows;
    expect(codeOf(() => labelSelect({ ...lab, channels: Uint32Array.of(0, 1, 2, 3), labels: bf16Labels }, o))).toBe('ERR_DTYPE');
    expect(codeOf(() => labelSelect({ ...lab, channels: Uint32Array.of(0, 1, 2, 3), labels: { ...labels, bits: 5 as 4 } }, o))).toBe('ERR_ARG');
    // 4-bit rows of width 3 need 2 bytes a row: 3 rows of data per head is short.
    const short4: LabelRows = { ...labelRows(2, 16, 3, 0, 4), data: new Int8Array(2 * 16 * 2 - 1) };
    expect(codeOf(() => labelCacheUpdate({ kv, channels: Uint32Array.of(0, 1, 2, 3, 4, 5), labels: short4, begin: 0, end: 4 }, o))).toBe('ERR_SHAPE');
  });

  (native ? test : test.skip)('straight into the addon', () => {
    const b = nativeBinding()!;
    const scores = new Float32Array(32);
    expect(() => b.attentionQuestSelect(q, 4, 8, bounds.data, bounds.scales, 2, 16, 5, 2, scores, new Uint32Array(5))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionQuestSelect(q, 4, 8, bounds.data, bounds.scales, 2, 16, 5, 2, new Float32Array(31), new Uint32Array(6))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionQuestSelect(q, 4, 8, bounds.data, bounds.scales, 2, 16, 5, 2, null, new Uint32Array(6))).not.toThrow();
    expect(() => b.attentionQuestSelect(q, 4, 8, bounds.data, bounds.scales, 2, 16, 17, 2, scores, new Uint32Array(6))).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => b.attentionQuestSelect(q, 4, 8, bounds.data, bounds.scales, 2, 48, 5, 2, scores, new Uint32Array(6))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionQuestPageBounds(kv.k, 2, 2, 100, 8, 800, 8, 16, bounds.data, bounds.scales, 16, 0, 7)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => b.attentionQuestPageBounds(kv.k, 2, 2, 101, 8, 800, 8, 16, bounds.data, bounds.scales, 16, 0, 1)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionQuestSelect(q, 4, 8, bounds.data, new Float32Array(31), 2, 16, 5, 2, scores, new Uint32Array(6))).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    const asU16 = new Uint16Array(512) as unknown as Int8Array;
    expect(() => b.attentionQuestSelect(q, 4, 8, asU16, bounds.scales, 2, 16, 5, 2, scores, new Uint32Array(6))).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    const labels = new Int8Array(2 * 112 * 2);
    const lscales = new Float32Array(2 * 112);
    const ch = Uint32Array.of(0, 1, 1, 1);
    expect(() => b.attentionLabelUpdate(kv.k, 2, 2, 100, 8, 800, 8, Uint32Array.of(0, 9, 1, 1), labels, lscales, 2, 112, 0, 10, 8)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => b.attentionLabelUpdate(kv.k, 2, 2, 100, 8, 800, 8, ch, labels, new Float32Array(223), 2, 112, 0, 10, 8)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionLabelUpdate(kv.k, 2, 2, 100, 8, 800, 8, ch, labels, lscales, 2, 112, 0, 10, 5 as 4)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    // Width 3 at 4 bits: 2 bytes a row, 2·112·2 in all.
    const ch3 = Uint32Array.of(0, 1, 2, 3, 4, 5);
    expect(() => b.attentionLabelUpdate(kv.k, 2, 2, 100, 8, 800, 8, ch3, new Int8Array(2 * 112 * 2 - 1), lscales, 3, 112, 0, 10, 4)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionLabelSelect(q, 4, 8, ch, labels, lscales, 2, 2, 112, 99, 100, new Float32Array(224), new Uint32Array(202), 8)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
    expect(() => b.attentionLabelSelect(q, 4, 8, ch, new Uint16Array(448) as unknown as Int8Array, lscales, 2, 2, 112, 99, 5, new Float32Array(224), new Uint32Array(12), 8)).toThrow(expect.objectContaining({ code: 'ERR_DTYPE' }));
    expect(() => b.attentionLabelSelect(q, 4, 8, ch, labels, lscales, 2, 2, 112, 99, 5, new Float32Array(223), new Uint32Array(12), 4)).toThrow(expect.objectContaining({ code: 'ERR_SHAPE' }));
    expect(() => b.attentionLabelSelect(q, 4, 8, ch, labels, lscales, 2, 2, 112, 99, 5, new Float32Array(224), new Uint32Array(12), 16 as 8)).toThrow(expect.objectContaining({ code: 'ERR_ARG' }));
  });
});
