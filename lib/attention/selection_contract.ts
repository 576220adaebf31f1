/**
 * The fused selection step of Quest and Double Sparsity (native/cpu/attention_select.cc, js
 * reference lib/backend/js/attention_select.ts): one call per layer scores every KV head's small
 * per-row summaries against its GQA group of queries and writes each head's top-k list.
 *
 * Both summaries are "tiled rows": bf16 rows of `width` channels, 16 rows per tile, channel-major
 * inside a tile, so a SIMD lane holds one row and a tile is scored with broadcast FMAs and no
 * horizontal sums. Element (head h, row i, channel c) is at `tiledIndex(rows, h, i, c)`.
 *   Quest:            row = page,  channels = [hi(D), lo(D)] (hi rounded up, lo down to bf16)
 *   Double Sparsity:  row = token, channels = the head's label channels of its key (bf16)
 */
import type { KvCacheView } from './contract';

/** Rows per tile. */
export const SELECT_TILE = 16;

export interface TiledRows {
  readonly data: Uint16Array;
  readonly kvHeads: number;
  /** Rows per head, a multiple of SELECT_TILE. */
  readonly capacity: number;
  /** Channels per row. */
  readonly width: number;
}

export function tiledIndex(r: TiledRows, h: number, i: number, c: number): number {
  const lane = i % SELECT_TILE;
  return (h * r.capacity + i - lane) * r.width + c * SELECT_TILE + lane;
}

/** Scores scratch length for `kvHeads` heads of n rows (each head's row padded to whole tiles). */
export function selectScoresLength(kvHeads: number, n: number): number {
  return kvHeads * Math.ceil(n / SELECT_TILE) * SELECT_TILE;
}

/** Quest bounds of the complete pages [pageBegin, pageEnd) of every KV head; bounds.width = 2·headDim. */
export interface QuestPageBoundsArgs {
  readonly kv: KvCacheView;
  readonly pageSize: number;
  readonly bounds: TiledRows;
  readonly pageBegin: number;
  readonly pageEnd: number;
}

/**
 * Quest selection: for each KV head h, pages [0, current) scored by the largest bound over h's
 * query group, Σ_d max(q_d·lo_d, q_d·hi_d); the `keep` best (ascending, ties to the lower page),
 * then `current`, into items[h·(keep+1) ..]. q is [heads, headDim]; scores is scratch of
 * selectScoresLength(kvHeads, current) (it holds the page scores afterwards).
 */
export interface QuestSelectArgs {
  readonly q: Float32Array;
  readonly heads: number;
  readonly bounds: TiledRows;
  readonly current: number;
  readonly keep: number;
  readonly scores: Float32Array;
  readonly items: Uint32Array;
}

/** Label rows of tokens [begin, end): channel c of head h is key channel channels[h·width + c], bf16 (nearest). */
export interface LabelUpdateArgs {
  readonly kv: KvCacheView;
  readonly channels: Uint32Array;
  readonly labels: TiledRows;
  readonly begin: number;
  readonly end: number;
}

/**
 * Double Sparsity selection: for each KV head h, tokens [0, n) scored by the largest over h's query
 * group of Σ_c q[channels[h·width + c]]·label(h, t, c); the k best (ascending, ties to the lower
 * token), then n, into items[h·(k+1) ..]. q is [heads, headDim]; scores as in QuestSelectArgs.
 */
export interface LabelSelectArgs {
  readonly q: Float32Array;
  readonly heads: number;
  readonly headDim: number;
  readonly channels: Uint32Array;
  readonly labels: TiledRows;
  readonly n: number;
  readonly k: number;
  readonly scores: Float32Array;
  readonly items: Uint32Array;
}
