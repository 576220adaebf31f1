/**
 * The seam between the decoding loop and sparse attention. A policy is asked, for one layer, one
 * KV head (shared by its GQA group of query heads) and one query position, which cached keys to
 * read; a kernel (lib/attention/ops.ts) then computes exact attention over that selection.
 *
 * Policies implement `selectHead`; `SparsePolicy` adapts it to the model's `AttentionPolicy`
 * (lib/nn/attention.ts: expanded key positions) and to the kernel's per-layer KvSelection.
 */
import { checkBackendChoice, selectBackend } from '../backend/select';
import type { BackendChoice } from '../backend/types';
import { bf16ToF32, f16ToF32 } from '../dtype';
import { SparsennError } from '../errors';
import type { KvCache } from '../generate/kv_cache';
import type { AttentionPolicy, KeySelection as ModelKeyRequest } from '../nn/attention';
import type { BlockPattern } from './block_sparse';
import type { KvCacheView, KvSelection } from './contract';

export interface HeadRequest {
  readonly layer: number;
  readonly kvHead: number;
  /** Position of the query; keys 0..pos are visible (the cache holds at least pos + 1 tokens). */
  readonly pos: number;
  /** The group's queries, [heads / kvHeads, headDim], after RoPE. */
  readonly queries: Float32Array;
  /** This layer's cache. */
  readonly kv: KvCacheView;
  /**
   * The sequence's whole cache, when the model is asking: per-sequence policy state lives there
   * (KvCache.policyState), never in the policy object, which every sequence of a batch shares.
   */
  readonly sequence?: KvCache;
}

/** One head's choice. Ranges are flat [begin, end) pairs; indices ascending; pages ascending. */
export type HeadSelection =
  | { readonly kind: 'all' }
  | { readonly kind: 'ranges'; readonly ranges: readonly number[] }
  | { readonly kind: 'indices'; readonly tokens: ArrayLike<number> }
  | { readonly kind: 'pages'; readonly pages: ArrayLike<number>; readonly pageSize: number };

export interface SparseAttentionPolicy extends AttentionPolicy {
  readonly name: string;
  selectHead(req: HeadRequest): HeadSelection;
  /** The selection of every KV head of a layer for one query row, as the kernel takes it (sequence: see HeadRequest). */
  selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, sequence?: KvCache): KvSelection;
  /**
   * Optional: the selection and the decode attention over it in one call, writing out (heads ×
   * headDim) as attentionDecode over selectLayer's choice would on `backend` (the caller's
   * attention backend); false when it does not apply here (the caller then runs selectLayer and
   * attentionDecode). For policies whose fused kernel overlaps one head's selection with another's
   * attention (Double Sparsity).
   */
  decodeLayer?(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, scale: number, out: Float32Array, backend?: BackendChoice): boolean;
  /**
   * Optional: a block pattern that a prefill of T rows (positions pos0 ..) may run as ONE
   * block-sparse kernel call instead of asking selectLayer row by row. Each row then reads a
   * superset of what it would select (whole blocks). null: rows one by one. heads / kvHeads: the
   * layer's query and KV head counts (a per-head mask has one entry per query head).
   */
  prefillPattern?(layer: number, T: number, pos0: number, heads: number, kvHeads: number): PrefillPattern | null;
}

/**
 * Whether the caller's attention backend (`asked`) and a policy's own resolve to the same backend:
 * a policy's fused decodeLayer runs its selection and the attention on one backend, so it applies
 * only then (else selectLayer + attentionDecode keep each part where it was asked for).
 */
export function sameBackend(asked: BackendChoice | undefined, own: BackendChoice): boolean {
  return selectBackend(checkBackendChoice(asked)) === selectBackend(own);
}

/** A prefill block pattern and its block size (tokens per query and key block). */
export interface PrefillPattern {
  readonly pattern: BlockPattern;
  readonly blockSize: number;
}

/**
 * How a decode-phase policy (Quest, Double Sparsity, TidalDecode: each paper selects keys for
 * generated tokens and prefills the prompt with full attention) treats a prompt:
 *  - 'rows' (default): every prompt row selects its keys as a decode step would, which is what a
 *    perplexity over a text needs to measure the policy at every position;
 *  - 'dense': the papers' setting: the prompt runs as one dense causal kernel call and only the
 *    generated tokens select, so a long prompt costs what it costs without the policy.
 */
export type DecodePolicyPrefill = 'rows' | 'dense';

const DENSE_PREFILL: PrefillPattern = Object.freeze({ pattern: Object.freeze({ kind: 'causal' as const }), blockSize: 64 });

/** Checks a decode-phase policy's `prefill` option (default 'rows'). */
export function checkDecodePolicyPrefill(value: unknown, policy: string): DecodePolicyPrefill {
  if (value === undefined) return 'rows';
  if (value !== 'rows' && value !== 'dense') throw new SparsennError('ERR_ARG', `${policy}: prefill must be 'rows' or 'dense'`);
  return value;
}

/** The prefill pattern of a decode-phase policy: the dense causal one for a 'dense' prefill of 2+ rows. */
export function decodePolicyPrefillPattern(prefill: DecodePolicyPrefill, T: number): PrefillPattern | null {
  return prefill === 'dense' && T >= 2 ? DENSE_PREFILL : null;
}

/** The model's f32 head-major cache seen through the kernel's view, for one layer. */
export function kvViewOfCache(cache: KvCache, layer: number, length: number): KvCacheView {
  return {
    k: cache.keys[layer]!,
    v: cache.values[layer]!,
    dtype: 'f32',
    kvHeads: cache.kvHeads,
    length,
    headDim: cache.headDim,
    headStride: cache.capacity * cache.headDim,
    tokenStride: cache.headDim,
  };
}

/** Token positions of a selection (ascending for every kind a policy here returns); null = all. */
export function selectionTokens(s: HeadSelection, length: number): number[] | null {
  switch (s.kind) {
    case 'all':
      return null;
    case 'indices':
      return Array.from(s.tokens);
    case 'ranges': {
      const out: number[] = [];
      for (let i = 0; i < s.ranges.length; i += 2) for (let t = s.ranges[i]!; t < s.ranges[i + 1]!; t++) out.push(t);
      return out;
    }
    case 'pages': {
      const out: number[] = [];
      for (let i = 0; i < s.pages.length; i++) {
        const b = s.pages[i]! * s.pageSize;
        for (let t = b; t < Math.min(b + s.pageSize, length); t++) out.push(t);
      }
      return out;
    }
  }
}

/**
 * Packs per-head selections into the kernel's CSR form. Heads that chose different kinds are
 * expressed as ranges (pages and indices are ranges too), so one call serves a mixed layer.
 */
export function packSelections(sels: readonly HeadSelection[], length: number): KvSelection {
  if (sels.every((s) => s.kind === 'all')) return { kind: 'all' };
  const kinds = new Set(sels.map((s) => s.kind));
  const offsets = new Uint32Array(sels.length + 1);
  if (kinds.size === 1 && (kinds.has('indices') || kinds.has('pages'))) {
    const pageSizes = new Set(sels.map((s) => (s.kind === 'pages' ? s.pageSize : 0)));
    if (kinds.has('indices') || pageSizes.size === 1) {
      const lists = sels.map((s) => (s.kind === 'indices' ? s.tokens : s.kind === 'pages' ? s.pages : []));
      lists.forEach((l, h) => (offsets[h + 1] = offsets[h]! + l.length));
      const items = new Uint32Array(offsets[sels.length]!);
      lists.forEach((l, h) => items.set(Array.from(l), offsets[h]!));
      const first = sels[0]!;
      return first.kind === 'pages' ? { kind: 'pages', offsets, items, pageSize: first.pageSize } : { kind: 'indices', offsets, items };
    }
  }
  const pairs: number[] = [];
  sels.forEach((s, h) => {
    if (s.kind === 'all') pairs.push(0, length);
    else if (s.kind === 'ranges') pairs.push(...s.ranges);
    else if (s.kind === 'indices') for (let i = 0; i < s.tokens.length; i++) pairs.push(s.tokens[i]!, s.tokens[i]! + 1);
    else
      for (let i = 0; i < s.pages.length; i++) {
        const b = s.pages[i]! * s.pageSize;
        pairs.push(b, Math.min(b + s.pageSize, length));
      }
    offsets[h + 1] = pairs.length / 2;
  });
  return { kind: 'ranges', offsets, items: Uint32Array.from(pairs) };
}

/** Base class: a policy writes selectHead; the model seam and the kernel form come from it. */
export abstract class SparsePolicy implements SparseAttentionPolicy {
  abstract readonly name: string;
  abstract selectHead(req: HeadRequest): HeadSelection;

  /** The model's seam (lib/nn/attention.ts): key positions to read, or null for all. */
  selectKeys(sel: ModelKeyRequest): ArrayLike<number> | null {
    const kv = kvViewOfCache(sel.cache, sel.layer, sel.pos + 1);
    const s = this.selectHead({ layer: sel.layer, kvHead: sel.kvHead, pos: sel.pos, queries: sel.queries, kv, sequence: sel.cache });
    return selectionTokens(s, sel.pos + 1);
  }

  selectLayer(layer: number, q: Float32Array, heads: number, kv: KvCacheView, pos: number, sequence?: KvCache): KvSelection {
    const group = heads / kv.kvHeads;
    const D = kv.headDim;
    const sels: HeadSelection[] = [];
    for (let h = 0; h < kv.kvHeads; h++)
      sels.push(this.selectHead({ layer, kvHead: h, pos, queries: q.subarray(h * group * D, (h + 1) * group * D), kv, sequence }));
    return packSelections(sels, pos + 1);
  }
}

/** Reads key (or value) row t of head h as f32 into out. */
export function readRow(kv: KvCacheView, which: 'k' | 'v', h: number, t: number, out: Float32Array): Float32Array {
  const src = kv[which];
  const o = h * kv.headStride + t * kv.tokenStride;
  const D = kv.headDim;
  if (kv.dtype === 'f32') for (let d = 0; d < D; d++) out[d] = src[o + d]!;
  else {
    const widen = kv.dtype === 'bf16' ? bf16ToF32 : f16ToF32;
    for (let d = 0; d < D; d++) out[d] = widen(src[o + d]!);
  }
  return out;
}

export { topK } from './top_k';
