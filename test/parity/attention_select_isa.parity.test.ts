/**
 * Parity of the fused Quest / Double Sparsity selection under every SIMD variant this CPU can run
 * (isa_child.ts): Double Sparsity 4-bit and int8 label rows, Quest page bounds, and both policies'
 * scores and token / page lists, bit for bit against the js reference. Widths cover the VNNI paths
 * (r a multiple of 8 at 4 bits, of 4 at 8 bits) and the generic loops; lengths pass the top-k's
 * sampled pre-filter thresholds; f16 and f32 caches, GQA 4 and 1.
 */
import type { KvCacheView } from '../../lib/attention/contract';
import { labelCacheUpdate, labelSelect, questPageBounds, questSelect } from '../../lib/attention/ops';
import { codeColumns, SELECT_TILE, selectScoresLength, type LabelRows, type ScaledInt8Rows } from '../../lib/attention/selection_contract';
import { DTYPE_CODE } from '../../lib/dtype';
import { backendInfo } from '../../lib/index';
import { Tensor } from '../../lib/tensor';
import { randomKv } from '../attention/make';
import { randInt, rng } from '../helpers';
import { CaseFolder, simdVariants } from './isa_child';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;

/** One case: a cache, queries and either Double Sparsity labels or Quest bounds, with the js answers. */
interface Case {
  policy: 'labels' | 'quest';
  label: string;
  kvHeads: number;
  heads: number;
  length: number;
  headDim: number;
  dtype: 0 | 1 | 2;
  kOff: number;
  qOff: number;
  // labels
  width?: number;
  bits?: 4 | 8;
  channelsOff?: number;
  // both: rows capacity, how many scored, how many kept
  capacity: number;
  n: number;
  k: number;
  pageSize?: number;
  ref: { data: Int8Array; scales: Float32Array; scores: Float32Array; items: Uint32Array };
}

const CHILD = `
const cases = JSON.parse(fs.readFileSync(dir + '/cases.json', 'utf8'));
const outs = [];
for (const c of cases) {
  const k = c.dtype === 0 ? new Float32Array(ab, c.kOff, c.kvHeads * c.length * c.headDim) : new Uint16Array(ab, c.kOff, c.kvHeads * c.length * c.headDim);
  const q = new Float32Array(ab, c.qOff, c.heads * c.headDim);
  const hs = c.length * c.headDim, ts = c.headDim;
  const scales = new Float32Array(c.kvHeads * c.capacity).fill(NaN);
  const scores = new Float32Array(c.kvHeads * Math.ceil(c.n / 16) * 16);
  const items = new Uint32Array(c.kvHeads * (c.k + 1));
  let data;
  if (c.policy === 'labels') {
    const channels = new Uint32Array(ab, c.channelsOff, c.kvHeads * c.width);
    const columns = c.bits === 4 ? Math.ceil(c.width / 2) : c.width;
    data = new Int8Array(c.kvHeads * c.capacity * columns).fill(-55);
    // In two calls, as a growing cache fills its labels.
    const mid = c.length >> 1;
    b.attentionLabelUpdate(k, c.dtype, c.kvHeads, c.length, c.headDim, hs, ts, channels, data, scales, c.width, c.capacity, 0, mid, c.bits);
    b.attentionLabelUpdate(k, c.dtype, c.kvHeads, c.length, c.headDim, hs, ts, channels, data, scales, c.width, c.capacity, mid, c.length, c.bits);
    b.attentionLabelSelect(q, c.heads, c.headDim, channels, data, scales, c.kvHeads, c.width, c.capacity, c.n, c.k, scores, items, c.bits);
  } else {
    data = new Int8Array(c.kvHeads * c.capacity * 2 * c.headDim).fill(77);
    b.attentionQuestPageBounds(k, c.dtype, c.kvHeads, c.length, c.headDim, hs, ts, c.pageSize, data, scales, c.capacity, 0, c.n);
    b.attentionQuestSelect(q, c.heads, c.headDim, data, scales, c.kvHeads, c.capacity, c.n, c.k, scores, items);
  }
  for (const a of [data, scales, scores, items]) outs.push(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
}
fs.writeFileSync(dir + '/output.bin', Buffer.concat(outs));
process.stdout.write(JSON.stringify({ simd: b.info().simd }));
`;

function makeCases(folder: CaseFolder): Case[] {
  const r = rng(606);
  const cases: Case[] = [];
  let seed = 1;
  const common = (kv: KvCacheView, q: Float32Array, heads: number) => ({
    kvHeads: kv.kvHeads,
    heads,
    length: kv.length,
    headDim: kv.headDim,
    dtype: DTYPE_CODE[kv.dtype],
    kOff: folder.push(kv.k),
    qOff: folder.push(q),
  });
  // Double Sparsity: r = 16 of 128 (both VNNI paths), 12 (VNNI at 8 bits only), 5 and 3 (generic).
  for (const [width, D, length, group, dtype] of [
    [16, 128, 3001, 4, 'f16'],
    [12, 64, 1500, 4, 'f32'],
    [5, 40, 777, 1, 'f16'],
    [3, 16, 9000, 4, 'f32'],
  ] as const)
    for (const bits of [4, 8] as const) {
      const kvHeads = 2;
      const kv = randomKv(kvHeads, length, D, dtype, seed++);
      const q = Tensor.random([kvHeads * group * D], seed++, 2).data as Float32Array;
      const channels = Uint32Array.from({ length: kvHeads * width }, () => randInt(r, 0, D - 1));
      const capacity = Math.ceil((length + 5) / SELECT_TILE) * SELECT_TILE;
      const labels: LabelRows = {
        data: new Int8Array(kvHeads * capacity * codeColumns({ width, bits })).fill(-55),
        scales: new Float32Array(kvHeads * capacity).fill(NaN),
        kvHeads,
        capacity,
        width,
        bits,
      };
      const mid = length >> 1;
      labelCacheUpdate({ kv, channels, labels, begin: 0, end: mid }, { backend: 'js' });
      labelCacheUpdate({ kv, channels, labels, begin: mid, end: length }, { backend: 'js' });
      const n = length - 1;
      const k = Math.max(1, Math.floor(n / 16));
      const scores = new Float32Array(selectScoresLength(kvHeads, n));
      const items = new Uint32Array(kvHeads * (k + 1));
      labelSelect({ q, heads: kvHeads * group, headDim: D, channels, labels, n, k, scores, items }, { backend: 'js' });
      cases.push({
        policy: 'labels',
        label: `labels r=${width} D=${D} ${bits}-bit ${dtype} GQA ${group} L=${length}`,
        ...common(kv, q, kvHeads * group),
        width,
        bits,
        channelsOff: folder.push(channels),
        capacity,
        n,
        k,
        ref: { data: labels.data, scales: labels.scales, scores, items },
      });
    }
  // Quest: head dims on and off the VNNI path (D % 4), pages cut mid-way at the end of the cache.
  for (const [D, length, group, dtype] of [
    [128, 20000, 4, 'f16'],
    [30, 3000, 1, 'f32'],
  ] as const) {
    const kvHeads = 2;
    const pageSize = 16;
    const kv = randomKv(kvHeads, length, D, dtype, seed++);
    const q = Tensor.random([kvHeads * group * D], seed++, 2).data as Float32Array;
    const pages = Math.floor(length / pageSize);
    const capacity = Math.ceil(pages / SELECT_TILE) * SELECT_TILE;
    const bounds: ScaledInt8Rows = {
      data: new Int8Array(kvHeads * capacity * 2 * D).fill(77),
      scales: new Float32Array(kvHeads * capacity).fill(NaN),
      kvHeads,
      capacity,
      width: 2 * D,
    };
    questPageBounds({ kv, pageSize, bounds, pageBegin: 0, pageEnd: pages }, { backend: 'js' });
    const k = Math.max(1, Math.floor(pages / 16));
    const scores = new Float32Array(selectScoresLength(kvHeads, pages));
    const items = new Uint32Array(kvHeads * (k + 1));
    questSelect({ q, heads: kvHeads * group, bounds, current: pages, keep: k, scores, items }, { backend: 'js' });
    cases.push({
      policy: 'quest',
      label: `quest D=${D} ${dtype} GQA ${group} L=${length}`,
      ...common(kv, q, kvHeads * group),
      capacity,
      n: pages,
      k,
      pageSize,
      ref: { data: bounds.data, scales: bounds.scales, scores, items },
    });
  }
  return cases;
}

/** Where arrays first differ (Object.is: NaN equals NaN, -0 differs from +0), or null. */
function firstDifference(got: ArrayLike<number>, want: ArrayLike<number>): string | null {
  if (got.length !== want.length) return `length ${got.length} vs ${want.length}`;
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return `[${i}] ${got[i]} vs ${want[i]}`;
  return null;
}

describeNative('Quest / Double Sparsity selection: every SIMD variant vs js, bit for bit', () => {
  const folder = new CaseFolder();
  let cases: Case[] = [];

  beforeAll(() => {
    cases = makeCases(folder);
    folder.write({ 'cases.json': cases.map(({ ref: _ref, ...c }) => c) });
  });

  afterAll(() => folder.remove());

  test.each(simdVariants())('%s', (simd) => {
    folder.run(CHILD, simd); // (it checks the variant ran)
    const out = folder.read('output.bin');
    const ab = out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer;
    let off = 0;
    const take = <T extends Int8Array | Float32Array | Uint32Array>(like: T): T => {
      const Ctor = like.constructor as new (b: ArrayBuffer, o: number, n: number) => T;
      const a = new Ctor(ab, off, like.length);
      off += like.byteLength;
      return a;
    };
    const wrong: string[] = [];
    for (const c of cases) {
      const parts: Array<[string, Int8Array | Float32Array | Uint32Array]> = [
        ['codes', c.ref.data],
        ['scales', c.ref.scales],
        ['scores', c.ref.scores],
        ['items', c.ref.items],
      ];
      for (const [name, want] of parts) {
        const got = take(want);
        // The scores scratch holds each head's n scores at h·stride; its tile padding is scratch.
        const stride = selectScoresLength(1, c.n);
        const meaningful = (a: ArrayLike<number>) =>
          name === 'scores' ? Array.from({ length: c.kvHeads }, (_, h) => Array.from(a).slice(h * stride, h * stride + c.n)).flat() : a;
        const d = firstDifference(meaningful(got), meaningful(want));
        if (d) wrong.push(`${c.label}: ${name} ${d}`);
      }
    }
    expect(off).toBe(out.length);
    expect(wrong).toEqual([]);
  });
});

test('selection variant parity ran or says why not', () => {
  if (!native) console.warn('attention_select_isa parity: native addon not loaded, skipped');
  expect(simdVariants().length > 0).toBe(native);
});
