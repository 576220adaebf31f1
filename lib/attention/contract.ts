/**
 * The attention kernel contract: what a KV cache looks like to a kernel, how a policy's key
 * selection is encoded, and the block mask of sparse prefill. Every backend (js reference, cpu)
 * takes exactly these; policies in this folder produce them.
 */
import type { DType } from '../dtype';

/**
 * One layer's KV cache as a kernel reads it. Element (kv head h, token t, dim d) of K is
 * `k[h * headStride + t * tokenStride + d]` (V likewise), so a head-major cache
 * ([kvHeads, capacity, headDim]: headStride = capacity·headDim, tokenStride = headDim) and a
 * token-major one ([capacity, kvHeads, headDim]) both work without a copy. Tokens [0, length) are valid.
 */
export interface KvCacheView {
  readonly k: Float32Array | Uint16Array;
  readonly v: Float32Array | Uint16Array;
  readonly dtype: DType;
  readonly kvHeads: number;
  readonly length: number;
  readonly headDim: number;
  readonly headStride: number;
  readonly tokenStride: number;
}

/**
 * Which cached tokens each KV head reads; the whole GQA group of query heads on that KV head shares
 * it, so one pass over the selected keys serves the group. Entries of KV head h are
 * `offsets[h] .. offsets[h + 1]`:
 *  - ranges:  entry i is the token range [items[2i], items[2i+1])  (sinks + window, MoA spans)
 *  - indices: entry i is token items[i]                             (top-k tokens)
 *  - pages:   entry i is tokens [items[i]·pageSize, min((items[i]+1)·pageSize, length))  (Quest)
 * `all` is dense attention.
 */
export type KvSelection =
  | { readonly kind: 'all' }
  | { readonly kind: 'ranges'; readonly offsets: Uint32Array; readonly items: Uint32Array }
  | { readonly kind: 'indices'; readonly offsets: Uint32Array; readonly items: Uint32Array }
  | { readonly kind: 'pages'; readonly offsets: Uint32Array; readonly items: Uint32Array; readonly pageSize: number };

export const SELECTION_KIND_CODE = { all: 0, ranges: 1, indices: 2, pages: 3 } as const;

/** out[h] = softmax(scale · q[h]·K_Sᵀ) · V_S for each query head h (q, out: [heads, headDim]). */
export interface DecodeAttentionArgs {
  readonly q: Float32Array;
  readonly heads: number;
  readonly kv: KvCacheView;
  readonly selection: KvSelection;
  readonly scale: number;
  readonly out: Float32Array;
}

/**
 * A block-sparse causal mask in BSR form, planned once per shape (FlashInfer's plan/run): for mask
 * head m (one mask for all heads when maskHeads = 1) and query block qb, the key blocks to visit are
 * `kvBlocks[indptr[m·qBlocks + qb] .. indptr[m·qBlocks + qb + 1])`, qBlocks = ceil(T / blockQ).
 */
export interface BlockMask {
  readonly indptr: Uint32Array;
  readonly kvBlocks: Uint32Array;
  readonly maskHeads: number;
  readonly blockQ: number;
  readonly blockK: number;
}

/**
 * Prefill attention for T new queries at positions pos0 .. pos0+T-1 (already appended to the cache),
 * causal, restricted to the mask's key blocks. q and out are [T, heads·headDim] (token-major, as
 * the Q projection writes them). Rows that see no key get zeros.
 */
export interface PrefillAttentionArgs {
  readonly q: Float32Array;
  readonly T: number;
  readonly heads: number;
  readonly kv: KvCacheView;
  readonly mask: BlockMask;
  readonly pos0: number;
  readonly scale: number;
  readonly out: Float32Array;
}

/**
 * Selection scores for policies: out[h·n + t] = max over the query heads g of KV head h's group of
 * q[g] · row(h, t), where the rows live in `rows.k` with the cache layout (rows.v is ignored) and
 * n = rows.length. q is [heads, rows.headDim].
 */
export interface GroupScoresArgs {
  readonly q: Float32Array;
  readonly heads: number;
  readonly rows: KvCacheView;
  readonly out: Float32Array;
}

/** Per row of `rows` rows of n scores, the indices of the k largest, ascending (ties to the lower index). */
export interface TopKArgs {
  readonly scores: Float32Array;
  readonly rows: number;
  readonly n: number;
  readonly k: number;
  /** [rows, k] indices. */
  readonly out: Uint32Array;
}

/** Entry i of head h's selection as a token range [begin, end) (clipped to the cache). */
export function selectionEntries(sel: KvSelection, h: number, length: number): Array<[number, number]> {
  if (sel.kind === 'all') return [[0, length]];
  const ranges: Array<[number, number]> = [];
  for (let e = sel.offsets[h]!; e < sel.offsets[h + 1]!; e++) {
    if (sel.kind === 'ranges') ranges.push([sel.items[2 * e]!, sel.items[2 * e + 1]!]);
    else if (sel.kind === 'indices') ranges.push([sel.items[e]!, sel.items[e]! + 1]);
    else {
      const b = sel.items[e]! * sel.pageSize;
      ranges.push([b, Math.min(b + sel.pageSize, length)]);
    }
  }
  return ranges;
}
