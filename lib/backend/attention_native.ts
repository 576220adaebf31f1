/** Marshals the attention contract (lib/attention/contract.ts) into the native binding's positional arguments. */
import type { DecodeAttentionArgs, GroupScoresArgs, PrefillAttentionArgs } from '../attention/contract';
import { SELECTION_KIND_CODE } from '../attention/contract';
import { DTYPE_CODE } from '../dtype';
import type { AttentionDecodeArgs, AttentionPrefillArgs, NativeBinding } from './binding';

const EMPTY = new Uint32Array(0);

export function decodeArgs(a: DecodeAttentionArgs): AttentionDecodeArgs {
  const { kv, selection: s } = a;
  const [offsets, items, pageSize] = s.kind === 'all' ? [EMPTY, EMPTY, 0] : [s.offsets, s.items, s.kind === 'pages' ? s.pageSize : 0];
  return [
    a.q, a.heads, kv.headDim, kv.k, kv.v, DTYPE_CODE[kv.dtype], kv.kvHeads, kv.length, kv.headStride, kv.tokenStride,
    SELECTION_KIND_CODE[s.kind], offsets, items, pageSize, a.scale, a.out,
  ];
}

export function prefillArgs(a: PrefillAttentionArgs): AttentionPrefillArgs {
  const { kv, mask } = a;
  return [
    a.q, a.T, a.heads, kv.headDim, kv.k, kv.v, DTYPE_CODE[kv.dtype], kv.kvHeads, kv.length, kv.headStride, kv.tokenStride,
    mask.indptr, mask.kvBlocks, mask.maskHeads, mask.blockQ, mask.blockK, a.pos0, a.scale, a.out,
  ];
}

export function groupScoresArgs(a: GroupScoresArgs): Parameters<NativeBinding['attentionGroupScores']> {
  const r = a.rows;
  return [a.q, a.heads, r.headDim, r.k, r.k, DTYPE_CODE[r.dtype], r.kvHeads, r.length, r.headStride, r.tokenStride, a.out];
}
