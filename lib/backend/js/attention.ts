/**
 * Reference attention kernels: plain loops in double precision, two-pass softmax, written to be
 * read. Native kernels (native/cpu/attention_*.cc) must match these.
 */
import type { DecodeAttentionArgs, GroupScoresArgs, KvCacheView, PrefillAttentionArgs, TopKArgs } from '../../attention/contract';
import { topK } from '../../attention/top_k';
import { selectionEntries } from '../../attention/contract';
import { elementReader } from '../../dtype';

/** softmax(scale · q·kᵀ) · V over the listed tokens, for one query vector; zeros when none. */
function attendOne(
  q: (d: number) => number,
  kv: KvCacheView,
  h: number,
  tokens: number[],
  scale: number,
  write: (d: number, x: number) => void,
): void {
  const D = kv.headDim;
  const readK = elementReader(kv.k, kv.dtype);
  const readV = elementReader(kv.v, kv.dtype);
  const base = h * kv.headStride;
  const scores = tokens.map((t) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += q(d) * readK(base + t * kv.tokenStride + d);
    return s * scale;
  });
  let max = -Infinity;
  for (const s of scores) max = Math.max(max, s);
  const weights = scores.map((s) => Math.exp(s - max));
  const sum = weights.reduce((a, b) => a + b, 0);
  for (let d = 0; d < D; d++) {
    let o = 0;
    tokens.forEach((t, j) => (o += weights[j]! * readV(base + t * kv.tokenStride + d)));
    write(d, tokens.length === 0 ? 0 : o / sum);
  }
}

export function attentionDecodeRef(a: DecodeAttentionArgs, headBegin = 0, headEnd = a.heads): void {
  const { kv, q, out } = a;
  const D = kv.headDim;
  const group = a.heads / kv.kvHeads;
  for (let hq = headBegin; hq < headEnd; hq++) {
    const h = Math.floor(hq / group);
    const tokens: number[] = [];
    for (const [b, e] of selectionEntries(a.selection, h, kv.length)) for (let t = b; t < e; t++) tokens.push(t);
    attendOne((d) => q[hq * D + d]!, kv, h, tokens, a.scale, (d, x) => (out[hq * D + d] = x));
  }
}

export function attentionPrefillRef(a: PrefillAttentionArgs, rowBegin = 0, rowEnd = a.T): void {
  const { kv, q, out, mask } = a;
  const D = kv.headDim;
  const row = a.heads * D;
  const group = a.heads / kv.kvHeads;
  const qBlocks = Math.ceil(a.T / mask.blockQ);
  for (let i = rowBegin; i < rowEnd; i++) {
    const qb = Math.floor(i / mask.blockQ);
    for (let hq = 0; hq < a.heads; hq++) {
      const m = mask.maskHeads === 1 ? 0 : hq;
      const tokens: number[] = [];
      for (let j = mask.indptr[m * qBlocks + qb]!; j < mask.indptr[m * qBlocks + qb + 1]!; j++) {
        const k0 = mask.kvBlocks[j]! * mask.blockK;
        for (let t = k0; t < Math.min(k0 + mask.blockK, kv.length); t++) if (t <= a.pos0 + i) tokens.push(t);
      }
      const h = Math.floor(hq / group);
      attendOne((d) => q[i * row + hq * D + d]!, kv, h, tokens, a.scale, (d, x) => (out[i * row + hq * D + d] = x));
    }
  }
}

export function attentionGroupScoresRef(a: GroupScoresArgs): void {
  const { rows, q, out } = a;
  const D = rows.headDim;
  const n = rows.length;
  const group = a.heads / rows.kvHeads;
  const read = elementReader(rows.k, rows.dtype);
  for (let h = 0; h < rows.kvHeads; h++)
    for (let t = 0; t < n; t++) {
      let best = -Infinity;
      for (let g = 0; g < group; g++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += q[(h * group + g) * D + d]! * read(h * rows.headStride + t * rows.tokenStride + d);
        best = Math.max(best, s);
      }
      out[h * n + t] = best;
    }
}

export function attentionTopKRef(a: TopKArgs): void {
  for (let r = 0; r < a.rows; r++) a.out.set(topK(a.scores.subarray(r * a.n, (r + 1) * a.n), a.k), r * a.k);
}
