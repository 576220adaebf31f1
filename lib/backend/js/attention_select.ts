/**
 * Reference for the fused Quest / Double Sparsity selection (lib/attention/selection_contract.ts):
 * plain loops in double precision, written to be read. native/cpu/attention_select.cc must match.
 */
import type { KvCacheView } from '../../attention/contract';
import type { LabelSelectArgs, LabelSelectDecodeArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, QuestSelectDecodeArgs } from '../../attention/selection_contract';
import { headOffsets, labelCode, selectScoresLength, setLabelCode, tiledIndex } from '../../attention/selection_contract';
import { labelQueryCodes } from '../../attention/label_query';
import { roundHalfEven } from '../../attention/rounding';
import { questHeadScore, questQueryCodes } from '../../attention/quest_query';
import { topK } from '../../attention/top_k';
import { elementReader } from '../../dtype';
import { attentionDecodeRef } from './attention';

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** The next f32 above a positive finite f32 x. */
function nextUpF32(x: number): number {
  f32buf[0] = x;
  u32buf[0]! += 1;
  return f32buf[0]!;
}

/** The smallest f32 s with qmax·s >= m (m finite, >= 0): the codes of values within ±m then fit in ±qmax. */
function smallestScale(m: number, qmax: number): number {
  const s = Math.fround(m / qmax);
  return s * qmax < m ? nextUpF32(s) : s;
}

/** The scale of a page whose largest |hi_d|, |lo_d| is m: the smallest f32 s with 127·s >= m. */
export function pageScale(m: number): number {
  return Number.isFinite(m) ? smallestScale(m, 127) : Infinity;
}

function keyReader(kv: KvCacheView): (h: number, t: number, d: number) => number {
  const read = elementReader(kv.k, kv.dtype);
  return (h, t, d) => read(h * kv.headStride + t * kv.tokenStride + d);
}

export function questPageBoundsRef(a: QuestPageBoundsArgs): void {
  const { kv, bounds, pageSize } = a;
  const D = kv.headDim;
  const key = keyReader(kv);
  const clamp = (x: number) => Math.min(127, Math.max(-127, x));
  for (let h = 0; h < kv.kvHeads; h++)
    for (let p = a.pageBegin; p < a.pageEnd; p++) {
      const hi = new Float64Array(D).fill(-Infinity);
      const lo = new Float64Array(D).fill(Infinity);
      let m = 0;
      for (let d = 0; d < D; d++) {
        for (let t = p * pageSize; t < (p + 1) * pageSize; t++) {
          const x = key(h, t, d);
          if (Number.isNaN(x)) m = NaN;
          hi[d] = Math.max(hi[d]!, x);
          lo[d] = Math.min(lo[d]!, x);
        }
        if (!Number.isNaN(m)) m = Math.max(m, Math.abs(hi[d]!), Math.abs(lo[d]!));
      }
      const s = pageScale(m);
      bounds.scales[h * bounds.capacity + p] = s;
      for (let d = 0; d < D; d++) {
        // hi rounded up, lo down: code·s still bounds every key of the page.
        const [hc, lc] = !Number.isFinite(s) ? [127, -127] : s === 0 ? [0, 0] : [clamp(Math.ceil(hi[d]! / s)), clamp(Math.floor(lo[d]! / s))];
        bounds.data[tiledIndex(bounds, h, p, d)] = hc;
        bounds.data[tiledIndex(bounds, h, p, D + d)] = lc;
      }
    }
}

/** Per head: the k best of its n scores (row h of the padded scratch), then `last`. */
function topKPerHead(kvHeads: number, scores: Float32Array, n: number, k: number, last: number, items: Uint32Array): void {
  const stride = selectScoresLength(1, n);
  for (let h = 0; h < kvHeads; h++) {
    items.set(topK(scores.subarray(h * stride, h * stride + n), k), h * (k + 1));
    items[h * (k + 1) + k] = last;
  }
}

/**
 * Rows [0, n) of every KV head scored as s_row · max over its query group of headScore(g, h, i) (the
 * query head g's value, already rounded to f32), into scores (head h at h·stride). A group holding a
 * query head whose unit is NaN (a NaN or infinite element) scores NaN: ranked last.
 */
function groupMaxScores(
  units: readonly number[],
  rows: { kvHeads: number; capacity: number; scales: Float32Array },
  n: number,
  headScore: (g: number, h: number, i: number) => number,
  scores: Float32Array,
): void {
  const group = units.length / rows.kvHeads;
  const stride = selectScoresLength(1, n);
  for (let h = 0; h < rows.kvHeads; h++) {
    const poisoned = units.slice(h * group, (h + 1) * group).some(Number.isNaN);
    for (let i = 0; i < n; i++) {
      let best = -Infinity;
      for (let g = h * group; g < (h + 1) * group && !poisoned; g++) {
        const t = headScore(g, h, i);
        best = t > best ? t : best;
      }
      scores[h * stride + i] = poisoned ? NaN : Math.fround(best * rows.scales[h * rows.capacity + i]!);
    }
  }
}

export function questSelectRef(a: QuestSelectArgs): void {
  const { bounds, q } = a;
  const D = bounds.width / 2;
  const codes = Array.from({ length: a.heads }, (_, g) => questQueryCodes(q, g * D, D));
  const scores = a.scores ?? new Float32Array(selectScoresLength(bounds.kvHeads, a.current));
  groupMaxScores(
    codes.map((c) => c.unit),
    bounds,
    a.current,
    (g, h, p) => questHeadScore(codes[g]!, bounds, h, p),
    scores,
  );
  topKPerHead(bounds.kvHeads, scores, a.current, a.keep, a.current, a.items);
}

/** A token's label scale for codes within ±qmax; NaN when a label channel is not finite (the token scores NaN). */
function labelScale(m: number, qmax: number): number {
  return Number.isFinite(m) ? smallestScale(m, qmax) : NaN;
}

export function labelUpdateRef(a: LabelUpdateArgs): void {
  const { kv, labels, channels } = a;
  const r = labels.width;
  const qmax = labels.bits === 4 ? 7 : 127;
  const key = keyReader(kv);
  const row = new Float64Array(r);
  for (let h = 0; h < kv.kvHeads; h++)
    for (let t = a.begin; t < a.end; t++) {
      let m = 0;
      for (let c = 0; c < r; c++) {
        row[c] = key(h, t, channels[h * r + c]!);
        m = Number.isFinite(row[c]!) ? Math.max(m, Math.abs(row[c]!)) : NaN;
      }
      const s = labelScale(m, qmax);
      labels.scales[h * labels.capacity + t] = s;
      for (let c = 0; c < r; c++) setLabelCode(labels, h, t, c, s > 0 ? Math.min(qmax, Math.max(-qmax, roundHalfEven(row[c]! / s))) : 0);
      if (labels.bits === 4 && r % 2 === 1) setLabelCode(labels, h, t, r, 0); // the pad nibble of an odd width is 0
    }
}

export function labelSelectRef(a: LabelSelectArgs): void {
  const { labels, q, channels } = a;
  const r = labels.width;
  const group = a.heads / labels.kvHeads;
  // Each query head's label channels, rounded to signed 8-bit codes (label_query.ts).
  const codes = Array.from({ length: a.heads }, (_, g) => {
    const h = Math.floor(g / group);
    const gathered = Float32Array.from({ length: r }, (_, c) => q[g * a.headDim + channels[h * r + c]!]!);
    return labelQueryCodes(gathered, r);
  });
  const headScore = (g: number, h: number, t: number) => {
    const c = codes[g]!;
    let sum = 0; // exact: |sum| <= 127 · 127 · 65536 < 2^31
    for (let ch = 0; ch < r; ch++) sum += c.codes[ch]! * labelCode(labels, h, t, ch);
    return Math.fround(c.unit * Math.fround(sum));
  };
  const scores = a.scores ?? new Float32Array(selectScoresLength(labels.kvHeads, a.n));
  groupMaxScores(
    codes.map((c) => c.unit),
    labels,
    a.n,
    headScore,
    scores,
  );
  topKPerHead(labels.kvHeads, scores, a.n, a.k, a.n, a.items);
}

/** questSelect, then decode attention over each head's pages (the two calls questSelectDecode fuses). */
export function questSelectDecodeRef(a: QuestSelectDecodeArgs): void {
  questSelectRef(a);
  const selection = { kind: 'pages' as const, offsets: headOffsets(a.bounds.kvHeads, a.keep + 1), items: a.items, pageSize: a.pageSize };
  attentionDecodeRef({ q: a.q, heads: a.heads, kv: a.kv, selection, scale: a.scale, out: a.out });
}

/** labelSelect, then decode attention over each head's tokens (the two calls labelSelectDecode fuses). */
export function labelSelectDecodeRef(a: LabelSelectDecodeArgs): void {
  labelSelectRef(a);
  const selection = { kind: 'indices' as const, offsets: headOffsets(a.labels.kvHeads, a.k + 1), items: a.items };
  attentionDecodeRef({ q: a.q, heads: a.heads, kv: a.kv, selection, scale: a.scale, out: a.out });
}
