/**
 * The fused selection step of Quest and Double Sparsity (native/cpu/attention_select.cc, js
 * reference lib/backend/js/attention_select.ts): one call per layer scores every KV head's small
 * per-row summaries against its GQA group of queries and writes each head's top-k list.
 *
 * Both summaries are "tiled rows": rows of `width` channels, 16 rows per tile, channel-major inside
 * a tile, so a SIMD lane holds one row and a tile is scored with broadcast FMAs and no horizontal
 * sums. Element (head h, row i, channel c) is at `tiledIndex(rows, h, i, c)`.
 *   Quest:            row = page, channels = [hi(D), lo(D)] as int8 codes times the page's scale,
 *                     hi rounded up and lo down (still bounds): 1/32 of the page's f16 K and V bytes
 *   Double Sparsity:  row = token, channels = the head's label channels of its key as 4-bit codes
 *                     (two a byte, the paper's 4-bit label cache) or int8 codes, times the token's
 *                     scale (r/2 + 4 bytes: 1/42.7 of its f16 K and V at r = D/8; int8: r + 4, 1/25.6)
 */
import { hugePageStorage } from '../backend/huge_pages';
import type { KvCacheView } from './contract';

/** Rows per tile. */
export const SELECT_TILE = 16;

interface TiledShape {
  readonly kvHeads: number;
  /** Rows per head, a multiple of SELECT_TILE. */
  readonly capacity: number;
  /** Channels per row. */
  readonly width: number;
}

/** bf16 elements. */
export interface Bf16Rows extends TiledShape {
  readonly data: Uint16Array;
}

/** int8 codes; element = code · scales[h·capacity + i] (a scale per row, >= 0). */
export interface ScaledInt8Rows extends TiledShape {
  readonly data: Int8Array;
  readonly scales: Float32Array;
}

/**
 * Double Sparsity's label rows: int8 codes (bits 8, within ±127, one byte a channel) or 4-bit codes
 * (bits 4, within ±7, two a byte: channel 2j in the low nibble of byte column j, 2j + 1 in the high
 * one; a tile is codeColumns() byte columns of 16 rows). Element = code · scales[h·capacity + i].
 */
export interface LabelRows extends ScaledInt8Rows {
  readonly bits: 4 | 8;
}

export type TiledRows = Bf16Rows | ScaledInt8Rows;

/** Bytes per row: width, or ceil(width / 2) for 4-bit label rows. */
export function codeColumns(r: { readonly width: number; readonly bits?: 4 | 8 }): number {
  return r.bits === 4 ? Math.ceil(r.width / 2) : r.width;
}

/** Index in data of byte column `col` of row i of head h, for rows of `columns` byte columns. */
function tiledByte(capacity: number, columns: number, h: number, i: number, col: number): number {
  const lane = i % SELECT_TILE;
  return (h * capacity + i - lane) * columns + col * SELECT_TILE + lane;
}

/** Label code of channel c of row i of head h. */
export function labelCode(l: LabelRows, h: number, i: number, c: number): number {
  if (l.bits === 8) return l.data[tiledIndex(l, h, i, c)]!;
  const byte = l.data[tiledByte(l.capacity, codeColumns(l), h, i, c >> 1)]!;
  // Shifting the nibble to the top of an int32 and back sign-extends it.
  return c % 2 === 0 ? (byte << 28) >> 28 : byte >> 4;
}

/** Stores a code (within ±7 for 4-bit rows, ±127 for int8) at channel c of row i of head h. */
export function setLabelCode(l: LabelRows, h: number, i: number, c: number, code: number): void {
  if (l.bits === 8) {
    l.data[tiledIndex(l, h, i, c)] = code;
    return;
  }
  const at = tiledByte(l.capacity, codeColumns(l), h, i, c >> 1);
  const old = l.data[at]!;
  l.data[at] = c % 2 === 0 ? (old & 0xf0) | (code & 0x0f) : (old & 0x0f) | ((code & 0x0f) << 4);
}

/**
 * A copy of `old` with room for at least `rows` rows per KV head (at least twice its capacity and
 * at least `minCapacity`, in whole tiles), keeping the first `filled` rows of every head (rounded
 * up to a tile: the tile layout moves whole tiles).
 */
export function grownScaledRows<T extends ScaledInt8Rows>(old: T, rows: number, minCapacity: number, filled: number): T {
  const capacity = Math.ceil(Math.max(rows, 2 * old.capacity, minCapacity) / SELECT_TILE) * SELECT_TILE;
  const columns = codeColumns(old);
  // Codes then scales (from a 64-byte line) in one buffer: the selection streams both every step,
  // so they go in 2 MiB pages once they fill one (hugePageStorage).
  const codeBytes = old.kvHeads * capacity * columns;
  const scalesAt = Math.ceil(codeBytes / 64) * 64;
  const { buffer, byteOffset } = hugePageStorage(scalesAt + 4 * old.kvHeads * capacity);
  const data = new Int8Array(buffer, byteOffset, codeBytes);
  const scales = new Float32Array(buffer, byteOffset + scalesAt, old.kvHeads * capacity);
  const kept = Math.ceil(filled / SELECT_TILE) * SELECT_TILE;
  for (let h = 0; h < old.kvHeads; h++) {
    data.set(old.data.subarray(h * old.capacity * columns, (h * old.capacity + kept) * columns), h * capacity * columns);
    scales.set(old.scales.subarray(h * old.capacity, h * old.capacity + kept), h * capacity);
  }
  return { ...old, data, scales, capacity };
}

export function tiledIndex(r: TiledShape, h: number, i: number, c: number): number {
  const lane = i % SELECT_TILE;
  return (h * r.capacity + i - lane) * r.width + c * SELECT_TILE + lane;
}

/** Selection offsets of items laid out `perHead` apiece, head after head (as the fused selections write them). */
export function headOffsets(kvHeads: number, perHead: number): Uint32Array {
  return Uint32Array.from({ length: kvHeads + 1 }, (_, h) => h * perHead);
}

/** Scores scratch length for `kvHeads` heads of n rows (each head's row padded to whole tiles). */
export function selectScoresLength(kvHeads: number, n: number): number {
  return kvHeads * Math.ceil(n / SELECT_TILE) * SELECT_TILE;
}

/**
 * Quest bounds of the complete pages [pageBegin, pageEnd) of every KV head; bounds.width = 2·headDim.
 * With m the largest |hi_d|, |lo_d| of a page, its scale s is the smallest f32 with 127·s >= m, hi
 * codes are ceil(hi/s) and lo codes floor(lo/s) (clamped to ±127). A page holding a non-finite key
 * gets s = +Infinity and codes ±127 (bound +Infinity: always read).
 */
export interface QuestPageBoundsArgs {
  readonly kv: KvCacheView;
  readonly pageSize: number;
  readonly bounds: ScaledInt8Rows;
  readonly pageBegin: number;
  readonly pageEnd: number;
}

/**
 * Quest selection: for each KV head h, pages [0, current) scored by the largest bound over h's
 * query group, s_p · Σ_d max(q̃_d·lo_code_d, q̃_d·hi_code_d) with q̃ each query head rounded to 8 bits
 * (quest_query.ts: an exact integer sum, the same bits on every backend); the `keep` best (ascending,
 * ties to the lower page), then `current`, into items[h·(keep+1) ..]. q is [heads, headDim] (headDim
 * at most 65536). scores, when given, receives the page scores (selectScoresLength(kvHeads, current)
 * floats, head h's row at h·round_up(current, 16)); a decode step leaves it out: the native backend
 * then scores each head into a per-thread buffer that stays in cache, where a buffer of the
 * caller's would go to memory and back every step (Double Sparsity at 32K, 8 KV heads, caches
 * evicted: 186 -> 170 us).
 */
export interface QuestSelectArgs {
  readonly q: Float32Array;
  readonly heads: number;
  readonly bounds: ScaledInt8Rows;
  readonly current: number;
  readonly keep: number;
  readonly scores?: Float32Array;
  readonly items: Uint32Array;
}

/**
 * Label rows of tokens [begin, end): channel c of head h is key channel channels[h·width + c], as
 * codes of labels.bits bits with a scale per token. With m the token's largest |label| and Q = 7 (4
 * bits) or 127 (8 bits), its scale s is the smallest f32 with Q·s >= m (as Quest's pages at Q = 127)
 * and each code is round-half-even(k_c / s) (0 for an all-zero row); a token with a non-finite label
 * channel gets s = NaN and codes 0 (it scores NaN, ranked last).
 */
export interface LabelUpdateArgs {
  readonly kv: KvCacheView;
  readonly channels: Uint32Array;
  readonly labels: LabelRows;
  readonly begin: number;
  readonly end: number;
}

/**
 * Double Sparsity selection: each query head's label channels q[channels[h·width + c]] are rounded
 * to signed 8-bit codes q̃ (label_query.ts: within ±127, and a unit per head); for each KV head h,
 * token t scores s_t · max over h's group g of unit_g · Σ_c q̃_c·code_c, an exact integer sum scaled
 * twice in f32, so every backend gives the same bits (a group with a non-finite query label channel
 * scores NaN). The k best (ascending, ties to the lower token), then n, into
 * items[h·(k+1) ..]. q is [heads, headDim]; width at most 65536; scores as in QuestSelectArgs.
 */
export interface LabelSelectArgs {
  readonly q: Float32Array;
  readonly heads: number;
  readonly headDim: number;
  readonly channels: Uint32Array;
  readonly labels: LabelRows;
  readonly n: number;
  readonly k: number;
  readonly scores?: Float32Array;
  readonly items: Uint32Array;
}

/**
 * Double Sparsity's step in one call: labelSelect's choice into items (as there; no scores), then
 * out = attentionDecode({ q, heads, kv, selection: head h's items[h·(k+1) .. h·(k+1)+k], scale, out }).
 * The native backend gives each KV head one task (score, rank, attend) when the heads fill the
 * cores, so one core's ranking overlaps another's reading of K/V rows (32K context, 8 KV heads,
 * 2 threads, caches evicted, straight into the addon: 0.80 -> 0.68 ms a layer against the two
 * calls). kv has the labels' kvHeads and headDim, and holds token n (n < kv.length).
 */
export interface LabelSelectDecodeArgs extends Omit<LabelSelectArgs, 'scores'> {
  readonly kv: KvCacheView;
  readonly scale: number;
  readonly out: Float32Array;
}

/**
 * Quest's step in one call: questSelect's choice into items (as there; no scores), then
 * out = attentionDecode over head h's pages items[h·(keep+1) ..] of pageSize tokens (the current
 * page cut at kv.length), one task per KV head as labelSelectDecode. kv has the bounds' kvHeads
 * and headDim, and page `current` starts inside it (current·pageSize < kv.length).
 */
export interface QuestSelectDecodeArgs extends Omit<QuestSelectArgs, 'scores'> {
  readonly pageSize: number;
  readonly kv: KvCacheView;
  readonly scale: number;
  readonly out: Float32Array;
}
