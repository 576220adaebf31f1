/**
 * Parity of the native attention kernels against the js reference: decode over every selection
 * kind, GQA ratios 1/4/8, odd lengths, pages cut mid-way, f32/f16/bf16 caches in both layouts; and
 * block-sparse causal prefill with random masks. Random data, never zeros.
 */
import type { BlockMask, KvCacheView } from '../../lib/attention/contract';
import { attentionDecode, attentionGroupScores, attentionPrefill, attentionTopK } from '../../lib/attention/ops';
import { backendInfo } from '../../lib/index';
import { Tensor } from '../../lib/tensor';
import { randomKv, randomSelection, selectionOf } from '../attention/make';
import { randInt, relError, rng, tolerance } from '../helpers';

const native = backendInfo().backend !== 'js';
const describeNative = native ? describe : describe.skip;
const DTYPES = ['f32', 'f16', 'bf16'] as const;

type Selection = Parameters<typeof attentionDecode>[0]['selection'];

/** Relative error of the cpu backend's decode attention against js for a random query (seeded). */
function decodeError(kv: KvCacheView, selection: Selection, heads: number, D: number, seed: number): number {
  const q = Tensor.random([heads * D], seed, 2).data as Float32Array;
  const args = { q, heads, kv, selection, scale: 1 / Math.sqrt(D) };
  const ref = new Float32Array(heads * D);
  const got = new Float32Array(heads * D).fill(NaN);
  attentionDecode({ ...args, out: ref }, { backend: 'js' });
  attentionDecode({ ...args, out: got }, { backend: 'cpu' });
  return relError(got, ref);
}

describeNative('decode attention: cpu vs js', () => {
  test.each(DTYPES)('%s cache', (dtype) => {
    const r = rng(dtype.length * 101);
    let seed = 3;
    for (const kind of ['all', 'ranges', 'indices', 'pages'] as const) {
      for (const group of [1, 4, 8]) {
        for (let rep = 0; rep < 3; rep++) {
          const kvHeads = randInt(r, 1, 3);
          const heads = kvHeads * group;
          const D = [1, 3, 17, 64, 128][randInt(r, 0, 4)]!;
          const length = [1, 2, 15, 17, 63, 65, 257, 1000][randInt(r, 0, 7)]! + (rep === 2 ? 1500 : 0);
          const pageSize = [16, 7, 32][rep]!;
          const layout = r() < 0.5 ? 'head' : 'token';
          const kv = randomKv(kvHeads, length, D, dtype, seed++, layout, length + randInt(r, 0, 5));
          const selection = randomSelection(r, kind, kvHeads, length, pageSize);
          const err = decodeError(kv, selection, heads, D, seed++);
          if (!(err <= tolerance('f32')))
            throw new Error(`${kind} ${dtype} G=${group} kvh=${kvHeads} D=${D} len=${length} ${layout}: rel error ${err}`);
        }
      }
    }
  });
});

/** The cache with its K and V arrays moved `shift` elements into fresh buffers (rows off their 64-byte lines). */
function shifted(kv: KvCacheView, shift: number): KvCacheView {
  const move = <T extends Float32Array | Uint16Array>(a: T): T => {
    const b = new (a.constructor as new (n: number) => T)(a.length + shift);
    b.set(a, shift);
    return b.subarray(shift) as T;
  };
  return { ...kv, k: move(kv.k), v: move(kv.v) };
}

describeNative('decode over token lists (Double Sparsity): cpu vs js', () => {
  test.each(DTYPES)('%s cache: unsorted and sorted lists, lists at the cache end, rows off their cache lines', (dtype) => {
    const r = rng(dtype.length * 7 + 1);
    let seed = 900;
    for (const group of [1, 4, 8])
      for (let rep = 0; rep < 4; rep++) {
        const kvHeads = randInt(r, 1, 3);
        const heads = kvHeads * group;
        const D = [3, 17, 64, 128][rep]!;
        const length = [33, 301, 1999, 4099][randInt(r, 0, 3)]! + rep;
        const layout = r() < 0.5 ? 'head' : 'token';
        // 0, 4 or 8 elements off (a JS ArrayBuffer store often starts 16 bytes past a line).
        const kv = shifted(randomKv(kvHeads, length, D, dtype, seed++, layout, length + randInt(r, 0, 3)), [0, 4, 8][rep % 3]!);
        // Per head: a duplicate-free random pick of up to ~1/4 of the tokens (enough for several
        // blocks and split-K chunks), always holding the last token; sorted or shuffled.
        const perHead = Array.from({ length: kvHeads }, () => {
          const want = randInt(r, 1, Math.max(1, length >> 2));
          const pick = new Set<number>([length - 1]);
          while (pick.size < want) pick.add(randInt(r, 0, length - 1));
          const list = Array.from(pick).sort((a, b) => a - b);
          if (rep % 2 === 1) for (let i = list.length - 1; i > 0; i--) { const j = randInt(r, 0, i); [list[i], list[j]] = [list[j]!, list[i]!]; }
          return list;
        });
        const selection = selectionOf('indices', perHead);
        const err = decodeError(kv, selection, heads, D, seed++);
        if (!(err <= tolerance('f32'))) throw new Error(`indices ${dtype} G=${group} kvh=${kvHeads} D=${D} len=${length} ${layout} rep=${rep}: rel error ${err}`);
      }
  });
});

/** A random block mask: causal blocks kept with probability p, the diagonal always. */
function randomMask(r: () => number, T: number, pos0: number, heads: number, bq: number, bk: number, perHead: boolean): BlockMask {
  const qBlocks = Math.ceil(T / bq);
  const maskHeads = perHead ? heads : 1;
  const indptr = new Uint32Array(maskHeads * qBlocks + 1);
  const blocks: number[] = [];
  for (let m = 0; m < maskHeads; m++)
    for (let qb = 0; qb < qBlocks; qb++) {
      const lastPos = pos0 + Math.min(T, (qb + 1) * bq) - 1;
      const maxKb = Math.floor(lastPos / bk);
      for (let kb = 0; kb <= maxKb; kb++) if (kb === maxKb || r() < 0.5) blocks.push(kb);
      indptr[m * qBlocks + qb + 1] = blocks.length;
    }
  return { indptr, kvBlocks: Uint32Array.from(blocks), maskHeads, blockQ: bq, blockK: bk };
}

describeNative('block-sparse prefill attention: cpu vs js', () => {
  test.each(DTYPES)('%s cache', (dtype) => {
    const r = rng(7 + dtype.length);
    let seed = 11;
    for (let rep = 0; rep < 12; rep++) {
      const group = [1, 4, 8][rep % 3]!;
      const kvHeads = randInt(r, 1, 2);
      const heads = kvHeads * group;
      const D = [5, 16, 64][randInt(r, 0, 2)]!;
      const T = randInt(r, 1, 130);
      const pos0 = r() < 0.5 ? 0 : randInt(r, 1, 70);
      const length = pos0 + T;
      const kv = randomKv(kvHeads, length, D, dtype, seed++, r() < 0.5 ? 'head' : 'token');
      const bq = [16, 32, 64, 7][randInt(r, 0, 3)]!;
      const bk = [16, 64, 13][randInt(r, 0, 2)]!;
      const mask = randomMask(r, T, pos0, heads, bq, bk, r() < 0.5);
      const q = Tensor.random([T * heads * D], seed++, 2).data as Float32Array;
      const args = { q, T, heads, kv, mask, pos0, scale: 1 / Math.sqrt(D) };
      const ref = new Float32Array(T * heads * D);
      const got = new Float32Array(T * heads * D).fill(NaN);
      attentionPrefill({ ...args, out: ref }, { backend: 'js' });
      attentionPrefill({ ...args, out: got }, { backend: 'cpu' });
      const err = relError(got, ref);
      if (!(err <= tolerance('f32'))) throw new Error(`prefill ${dtype} T=${T} pos0=${pos0} G=${group} D=${D} bq=${bq} bk=${bk}: rel error ${err}`);
    }
  });
});

describeNative('selection group scores: cpu vs js', () => {
  test.each(DTYPES)('%s rows', (dtype) => {
    const r = rng(31 + dtype.length);
    let seed = 41;
    for (let rep = 0; rep < 12; rep++) {
      const group = [1, 4, 8][rep % 3]!;
      const kvHeads = randInt(r, 1, 3);
      const heads = kvHeads * group;
      const D = [1, 7, 16, 33, 128, 256][randInt(r, 0, 5)]!;
      const n = [1, 5, 63, 64, 65, 1000, 1100][randInt(r, 0, 6)]!;
      const rows = randomKv(kvHeads, n, D, dtype, seed++, r() < 0.5 ? 'head' : 'token', n + randInt(r, 0, 3));
      const q = Tensor.random([heads * D], seed++, 2).data as Float32Array;
      const ref = new Float32Array(kvHeads * n);
      const got = new Float32Array(kvHeads * n).fill(NaN);
      attentionGroupScores({ q, heads, rows, out: ref }, { backend: 'js' });
      attentionGroupScores({ q, heads, rows, out: got }, { backend: 'cpu' });
      const err = relError(got, ref);
      if (!(err <= tolerance('f32'))) throw new Error(`scores ${dtype} G=${group} kvh=${kvHeads} D=${D} n=${n}: rel error ${err}`);
    }
  });
});

describeNative('selection top-k: cpu vs js', () => {
  test('exact same indices, with ties, NaN and -Infinity', () => {
    const r = rng(77);
    for (let rep = 0; rep < 40; rep++) {
      const rows = randInt(r, 1, 9);
      const n = [1, 2, 17, 64, 100, 1000, 4099, 20011][randInt(r, 0, 7)]!; // long rows take the sampled pre-filter when k <= n/4
      const k = rep % 2 === 0 ? randInt(r, 0, n) : randInt(r, 0, n >> 4);
      const levels = [3, 50, 1e9][rep % 3]!; // few levels = many ties
      const scores = Float32Array.from({ length: rows * n }, () => {
        const u = r();
        return u < 0.02 ? NaN : u < 0.04 ? -Infinity : Math.floor(r() * levels) - levels / 2;
      });
      const ref = new Uint32Array(rows * k);
      const got = new Uint32Array(rows * k).fill(0xffffffff);
      attentionTopK({ scores, rows, n, k, out: ref }, { backend: 'js' });
      attentionTopK({ scores, rows, n, k, out: got }, { backend: 'cpu' });
      expect(Array.from(got)).toEqual(Array.from(ref));
    }
  });

  test('a strided sample that overstates the top: a lower floor, then every score', () => {
    // The native top-k guesses a floor from every (n/512)-th score. Here those 512 hold the largest
    // values, so the first floor (3 sigmas down, about the sample's 52nd) leaves 52 candidates for
    // k = 2047. Row 0 holds 2000 more scores between it and the second floor (8 sigmas, the 81st),
    // which then leaves enough; row 1 does not, and takes the select over every score.
    const n = 32767;
    const k = 2047;
    const stride = Math.floor(n / 512);
    const r = rng(5);
    const scores = new Float32Array(2 * n);
    for (let row = 0; row < 2; row++) {
      const s = scores.subarray(row * n, (row + 1) * n);
      for (let i = 0; i < n; i++) s[i] = r();
      for (let j = 0; j < 512; j++) s[j * stride] = 100 + j / 1000;
      if (row === 0)
        for (let placed = 0, i = 1; placed < 2000; i += 3)
          if (i % stride !== 0) {
            s[i] = 100.45;
            placed++;
          }
    }
    const ref = new Uint32Array(2 * k);
    const got = new Uint32Array(2 * k).fill(0xffffffff);
    attentionTopK({ scores, rows: 2, n, k, out: ref }, { backend: 'js' });
    attentionTopK({ scores, rows: 2, n, k, out: got }, { backend: 'cpu' });
    expect(Array.from(got)).toEqual(Array.from(ref));
  });
});

test('attention parity ran or says why not', () => {
  if (!native) console.warn('attention parity: native addon not loaded, cpu-vs-js parity skipped');
  expect(typeof native).toBe('boolean');
});
