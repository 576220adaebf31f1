/** Marshals the fused selection args (lib/attention/selection_contract.ts) into the native binding's positional arguments. */
import type { LabelSelectArgs, LabelSelectDecodeArgs, LabelUpdateArgs, QuestPageBoundsArgs, QuestSelectArgs, QuestSelectDecodeArgs } from '../attention/selection_contract';
import { DTYPE_CODE } from '../dtype';
import type { NativeBinding } from './binding';

export function questPageBoundsArgs(a: QuestPageBoundsArgs): Parameters<NativeBinding['attentionQuestPageBounds']> {
  const { kv, bounds } = a;
  return [kv.k, DTYPE_CODE[kv.dtype], kv.kvHeads, kv.length, kv.headDim, kv.headStride, kv.tokenStride, a.pageSize, bounds.data, bounds.scales, bounds.capacity, a.pageBegin, a.pageEnd];
}

export function questSelectArgs(a: QuestSelectArgs): Parameters<NativeBinding['attentionQuestSelect']> {
  const { bounds } = a;
  return [a.q, a.heads, bounds.width / 2, bounds.data, bounds.scales, bounds.kvHeads, bounds.capacity, a.current, a.keep, a.scores ?? null, a.items];
}

export function labelUpdateArgs(a: LabelUpdateArgs): Parameters<NativeBinding['attentionLabelUpdate']> {
  const { kv, labels } = a;
  return [kv.k, DTYPE_CODE[kv.dtype], kv.kvHeads, kv.length, kv.headDim, kv.headStride, kv.tokenStride, a.channels, labels.data, labels.scales, labels.width, labels.capacity, a.begin, a.end, labels.bits];
}

export function labelSelectArgs(a: LabelSelectArgs): Parameters<NativeBinding['attentionLabelSelect']> {
  const { labels } = a;
  return [a.q, a.heads, a.headDim, a.channels, labels.data, labels.scales, labels.kvHeads, labels.width, labels.capacity, a.n, a.k, a.scores ?? null, a.items, labels.bits];
}

export function labelSelectDecodeArgs(a: LabelSelectDecodeArgs): Parameters<NativeBinding['attentionLabelSelectDecode']> {
  const { labels, kv } = a;
  return [
    a.q, a.heads, a.headDim, a.channels, labels.data, labels.scales, labels.kvHeads, labels.width, labels.capacity, a.n, a.k, a.items, labels.bits,
    kv.k, kv.v, DTYPE_CODE[kv.dtype], kv.length, kv.headStride, kv.tokenStride, a.scale, a.out,
  ];
}

export function questSelectDecodeArgs(a: QuestSelectDecodeArgs): Parameters<NativeBinding['attentionQuestSelectDecode']> {
  const { bounds, kv } = a;
  return [
    a.q, a.heads, bounds.width / 2, bounds.data, bounds.scales, bounds.kvHeads, bounds.capacity, a.current, a.keep, a.items, a.pageSize,
    kv.k, kv.v, DTYPE_CODE[kv.dtype], kv.length, kv.headStride, kv.tokenStride, a.scale, a.out,
  ];
}
