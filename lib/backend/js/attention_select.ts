/**
 * Reference for the fused Quest / Double Sparsity selection (lib/attention/selection_contract.ts):
 * plain loops in double precision, written to be read. native/cpu/attention_select.cc must match.
 */
import type { KvCacheView } from '../../attention/contract';
import type { LabelSelectArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, TiledRows } from '../../attention/selection_contract';
import { selectScoresLength, tiledIndex } from '../../attention/selection_contract';
import { topK } from '../../attention/top_k';
import { bf16ToF32, elementReader, f32ToBf16 } from '../../dtype';

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** x as bf16 bits rounded toward +∞ (up) or −∞ (down), so a stored bound still bounds. */
export function bf16Directed(x: number, up: boolean): number {
  f32buf[0] = x;
  const bits = u32buf[0]!;
  let h = bits >>> 16;
  if ((bits & 0xffff) !== 0 && (bits & 0x7f800000) !== 0x7f800000) {
    // Truncation moved toward zero: step one ulp away from zero when that is the wanted direction.
    const negative = (bits & 0x80000000) !== 0;
    if (up !== negative) h += 1;
  }
  return h & 0xffff;
}

function keyReader(kv: KvCacheView): (h: number, t: number, d: number) => number {
  const read = elementReader(kv.k, kv.dtype);
  return (h, t, d) => read(h * kv.headStride + t * kv.tokenStride + d);
}

export function questPageBoundsRef(a: QuestPageBoundsArgs): void {
  const { kv, bounds, pageSize } = a;
  const D = kv.headDim;
  const key = keyReader(kv);
  for (let h = 0; h < kv.kvHeads; h++)
    for (let p = a.pageBegin; p < a.pageEnd; p++)
      for (let d = 0; d < D; d++) {
        let hi = -Infinity;
        let lo = Infinity;
        for (let t = p * pageSize; t < (p + 1) * pageSize; t++) {
          hi = Math.max(hi, key(h, t, d));
          lo = Math.min(lo, key(h, t, d));
        }
        bounds.data[tiledIndex(bounds, h, p, d)] = bf16Directed(hi, true);
        bounds.data[tiledIndex(bounds, h, p, D + d)] = bf16Directed(lo, false);
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
  const bound = (g: number, h: number, p: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) {
      const x = q[g * D + d]!;
      s += Math.max(x * bf16ToF32(bounds.data[tiledIndex(bounds, h, p, d)]!), x * bf16ToF32(bounds.data[tiledIndex(bounds, h, p, D + d)]!));
    }
    return s;
  };
  groupMax(bounds, a.heads, a.current, bound, a.scores);
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
