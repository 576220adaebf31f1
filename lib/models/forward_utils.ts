/** Small pieces shared by the architectures' forward passes. */
import { SparsennError } from '../errors';
import type { Tensor } from '../tensor';
import { Tensor as T } from '../tensor';
import { decodeHalf } from '../dtype';
import type { AttentionPolicy } from '../nn/attention';
import type { Segment } from './types';

/** Copies row `id` of an embedding table [vocab, dim] (any dtype) to out[offset ..]. */
export function embedRow(table: Tensor, id: number, out: Float32Array, offset: number): void {
  const dim = table.shape[1]!;
  const vocab = table.shape[0]!;
  if (!Number.isInteger(id) || id < 0 || id >= vocab)
    throw new SparsennError('ERR_ARG', `token id ${id} is outside the vocabulary [0, ${vocab})`);
  if (table.dtype === 'f32') out.set((table.data as Float32Array).subarray(id * dim, (id + 1) * dim), offset);
  else out.set(decodeHalf((table.data as Uint16Array).subarray(id * dim, (id + 1) * dim), table.dtype), offset);
}

/** Checks segments and reserves cache room; returns the total number of new rows. */
export function prepareSegments(segments: readonly Segment[], maxSeqLen: number): number {
  if (segments.length === 0) throw new SparsennError('ERR_ARG', 'forward needs at least one sequence');
  let rows = 0;
  for (const s of segments) {
    if (s.ids.length === 0) throw new SparsennError('ERR_ARG', 'forward needs at least one token per sequence');
    const end = s.cache.length + s.ids.length;
    if (end > maxSeqLen)
      throw new SparsennError('ERR_ARG', `sequence of ${end} tokens exceeds the model's context length ${maxSeqLen}`);
    s.cache.reserve(end);
    rows += s.ids.length;
  }
  return rows;
}

/** Rows of the stacked activations that produce logits: all, or the last of each segment. */
export function logitRows(segments: readonly Segment[], allLogits: boolean): number[] {
  const rows: number[] = [];
  let r = 0;
  for (const s of segments) {
    if (allLogits) for (let i = 0; i < s.ids.length; i++) rows.push(r + i);
    else rows.push(r + s.ids.length - 1);
    r += s.ids.length;
  }
  return rows;
}

/** Gathers the given rows of x [*, dim] into a new [rows.length, dim] tensor. */
export function gatherRows(x: Float32Array, dim: number, rows: readonly number[]): Tensor {
  const out = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => out.set(x.subarray(r * dim, (r + 1) * dim), i * dim));
  return new T(out, [rows.length, dim]);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason;
}

/** The new rows of each segment as one span (for whole-sequence attention kernels). */
export function spansOf(segments: readonly Segment[]): { cache: Segment['cache']; pos0: number; row: number; count: number }[] {
  let row = 0;
  return segments.map((s) => {
    const span = { cache: s.cache, pos0: s.cache.length, row, count: s.ids.length };
    row += s.ids.length;
    return span;
  });
}

/**
 * Lets a bounded-memory attention policy (StreamingLLM with eviction) drop the middle of each
 * segment's cache before the new tokens are appended; `rotate` re-encodes key positions (RoPE
 * models; see KvCache.evictMiddle). A no-op for every other policy.
 */
export function evictForPolicy(
  segments: readonly Segment[],
  policy: AttentionPolicy | undefined,
  rotate?: (keys: Float32Array, offset: number, count: number, delta: number) => void,
): void {
  const eviction = policy?.eviction;
  if (!eviction) return;
  for (const s of segments) {
    const plan = eviction.plan(s.cache.length, s.ids.length);
    if (plan) s.cache.evictMiddle(plan.sinks, plan.from, rotate);
  }
}
