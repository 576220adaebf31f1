/**
 * Reference for the fused Quest / Double Sparsity selection (lib/attention/selection_contract.ts):
 * plain loops in double precision, written to be read. native/cpu/attention_select.cc must match.
 */
import type { KvCacheView } from '../../attention/contract';
import type { LabelSelectArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, TiledRows } from '../../attention/selection_contract';
import { selectScoresLength, tiledIndex } from '../../attention/selection_contract';
import { questHeadScore, questQueryCodes } from '../../attention/quest_query';
import { topK } from '../../attention/top_k';
import { bf16ToF32, elementReader, f32ToBf16 } from '../../dtype';

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** The next f32 above a positive finite f32 x. */
function nextUpF32(x: number): number {
  f32buf[0] = x;
  u32buf[0]! += 1;
  return f32buf[0]!;
}

/** The scale of a page whose largest |hi_d|, |lo_d| is m: the smallest f32 s with 127·s >= m. */
export function pageScale(m: number): number {
  if (!Number.isFinite(m)) return Infinity;
  const s = Math.fround(m / 127);
  return s * 127 < m ? nextUpF32(s) : s;
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

/** out[h·stride + i] = max over h's group g of score(g, h, i). */
function groupMax(rows: TiledRows, heads: number, n: number, score: (g: number, h: number, i: number) => number, out: Float32Array): void {
  const group = heads / rows.kvHeads;
  const stride = selectScoresLength(1, n);
  for (let h = 0; h < rows.kvHeads; h++)
    for (let i = 0; i < n; i++) {
      let best = -Infinity;
      for (let g = h * group; g < (h + 1) * group; g++) best = Math.max(best, score(g, h, i));
      out[h * stride + i] = best;
    }
}

export function questSelectRef(a: QuestSelectArgs): void {
  const { bounds, q } = a;
  const D = bounds.width / 2;
  const group = a.heads / bounds.kvHeads;
  const stride = selectScoresLength(1, a.current);
  const codes = Array.from({ length: a.heads }, (_, g) => questQueryCodes(q, g * D, D));
  for (let h = 0; h < bounds.kvHeads; h++) {
    const mine = codes.slice(h * group, (h + 1) * group);
    // A query head holding NaN or ±Infinity makes its group's scores NaN (ranked last).
    const poisoned = mine.some((c) => Number.isNaN(c.unit));
    for (let p = 0; p < a.current; p++) {
      let best = -Infinity;
      for (const c of mine) {
        const t = poisoned ? NaN : questHeadScore(c, bounds, h, p);
        best = t > best ? t : best;
      }
      a.scores[h * stride + p] = poisoned ? NaN : Math.fround(best * bounds.scales[h * bounds.capacity + p]!);
    }
  }
  topKPerHead(bounds.kvHeads, a.scores, a.current, a.keep, a.current, a.items);
}

export function labelUpdateRef(a: LabelUpdateArgs): void {
  const { kv, labels, channels } = a;
  const key = keyReader(kv);
  for (let h = 0; h < kv.kvHeads; h++)
    for (let t = a.begin; t < a.end; t++)
      for (let c = 0; c < labels.width; c++) labels.data[tiledIndex(labels, h, t, c)] = f32ToBf16(key(h, t, channels[h * labels.width + c]!));
}

export function labelSelectRef(a: LabelSelectArgs): void {
  const { labels, q, channels } = a;
  const r = labels.width;
  const approx = (g: number, h: number, t: number) => {
    let s = 0;
    for (let c = 0; c < r; c++) s += q[g * a.headDim + channels[h * r + c]!]! * bf16ToF32(labels.data[tiledIndex(labels, h, t, c)]!);
    return s;
  };
  groupMax(labels, a.heads, a.n, approx, a.scores);
  topKPerHead(labels.kvHeads, a.scores, a.n, a.k, a.n, a.items);
}
