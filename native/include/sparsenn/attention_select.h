// Fused key selection for the sparse-attention policies Quest (page bounds) and Double Sparsity
// (label cache): one call per layer scores every KV head's candidate rows against its GQA group of
// queries and writes each head's top-k list, so a decode step does no per-head work in JavaScript.
//
// Both policies keep their small per-row summaries in the same "tiled rows" layout: rows of `width`
// channels, 16 rows per tile, channel-major inside a tile, so a SIMD lane holds one row and
// scoring a tile is `width` broadcast FMAs per query with no horizontal sums. Element (head h,
// row i, channel c) lives at data[(h*capacity + i - i%16)*width + c*16 + i%16] (capacity: rows per
// head, a multiple of 16). Elements are bf16, or int8 codes times a per-row scale
// scales[h*capacity + i] (value = code * scale).
//   Quest:            row = page, channels = [hi(D), lo(D)] as int8 codes with the page's scale,
//                     hi rounded up and lo down (so they still bound every key): 1/32 of the page's
//                     f16 K and V bytes
//   Double Sparsity:  row = token, channels = the head's r label channels of its key as 4-bit codes
//                     (code_bits, below; r/2 + 4 bytes: 1/42.7 of its f16 K and V at r = D/8) or
//                     int8 codes (r + 4 bytes, 1/25.6), with the token's scale
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

constexpr int64_t kSelectTile = 16;

struct TiledRows {
  void* data;      // uint16_t bf16 elements, or int8_t codes when scales is set
  float* scales;   // per row, [kv_heads, capacity]; nullptr for bf16 rows
  int64_t kv_heads;
  int64_t capacity;  // rows per head, a multiple of kSelectTile
  int64_t width;     // channels per row
  // Scaled rows only: 8 (an int8 code per channel, within ±127) or 4 (codes within ±7, two to a
  // byte: channel 2j in the low nibble of byte column j, 2j+1 in the high one; a tile is then
  // code_columns() byte columns of 16 rows, the layout above with width = code_columns()).
  int64_t code_bits = 8;
};

// Byte columns per row: width for bf16 and 8-bit rows, ceil(width / 2) for 4-bit rows.
inline int64_t code_columns(const TiledRows& r) { return r.code_bits == 4 ? (r.width + 1) / 2 : r.width; }

// Quest page bounds of pages [page_begin, page_end) of every KV head (each page complete:
// (page_end)*page_size <= kv.length), as int8 rows: bounds.width must be 2*kv.head_dim and
// bounds.scales set. With m the largest |hi_d|, |lo_d| of the page, the scale s is the smallest
// float with 127*s >= m; hi codes are ceil(hi/s), lo codes floor(lo/s) (so code*s still bounds). A
// page holding a non-finite key gets s = +inf and codes ±127: its bound is +inf, it is always read.
void quest_page_bounds(const KvView& kv, int64_t page_size, const TiledRows& bounds, int64_t page_begin, int64_t page_end);

// Quest selection for one layer. q is [heads, D] (heads a multiple of bounds.kv_heads, D <= 65536).
// Each query head is rounded to u8 codes of |q_d| in units of max|q|/255 (lib/attention/quest_query.ts
// has the exact steps); for each KV head h: score pages [0, current) by
// s_p · max over h's query group g of unit_g · (Σ_{q_d>0} u_d·hi_code_d − Σ_{q_d<0} u_d·lo_code_d),
// the sum exact in integers and each product rounded to f32, so every ISA gives the same bits (a
// group with a NaN or infinite query element scores NaN);
// take the `keep` best (ascending, ties to the lower page; keep <= current), then `current`:
// items[h*(keep+1) .. h*(keep+1)+keep]. scores: null, or kv_heads * round_up(current, 16) floats
// that receive the page scores (row h at h*round_up(current, 16)); with null each head is scored
// into a per-thread buffer that stays in cache (a decode step's caller has no use for the scores,
// and a buffer of its own goes to memory and back every step).
void quest_select(const F32View& q, const TiledRows& bounds, int64_t current, int64_t keep, float* scores, uint32_t* items);

// quest_select's choice (into items, as there) and then decode attention over those pages of
// page_size tokens (the last one cut at kv.length), in one call, as label_select_decode does for
// Double Sparsity (the same bits as the two calls while each head's selection is one chunk of
// attention_decode). kv.kv_heads == bounds.kv_heads, current * page_size < kv.length.
void quest_select_decode(const F32View& q, const TiledRows& bounds, int64_t current, int64_t keep, int64_t page_size,
                         const KvView& kv, float scale, uint32_t* items, const MutF32View& out);

// Double Sparsity label rows of tokens [begin, end) (end <= kv.length) of every KV head, as int8
// or 4-bit codes (labels.code_bits) with a scale per token (labels.scales set): channel c of head h
// is key channel channels[h*labels.width + c]; with m the token's largest |label| and Q = 127 (8
// bits) or 7 (4 bits), its scale s is the smallest float with Q*s >= m and each code is
// round-half-even(k_c / s) (0 for an all-zero row). A token with a non-finite label channel gets
// s = NaN and codes 0: it scores NaN (ranked last).
void label_cache_update(const KvView& kv, const uint32_t* channels, const TiledRows& labels, int64_t begin, int64_t end);

// Double Sparsity selection for one layer: each query head's label channels are rounded to signed
// 8-bit codes q̃_c in units of max|q|/127 (lib/attention/label_query.ts has the exact steps); for
// each KV head h, token t scores s_t · max over h's query group g of unit_g · Σ_c q̃_c·code_c, the sum exact in
// integers and each product rounded to f32, so every ISA gives the same bits (a group with a
// non-finite query label channel scores NaN); take the k best (ascending, ties to the lower token;
// k <= n) of tokens [0, n), then the token n: items[h*(k+1) ..]. labels.width <= 65536. scores as
// in quest_select.
void label_select(const F32View& q, const uint32_t* channels, const TiledRows& labels, int64_t n, int64_t k, float* scores,
                  uint32_t* items);

// label_select's choice (into items, as there) and then decode attention over it, in one call:
// out = attention_decode(q, kv, the selection of items[h*(k+1) .. h*(k+1)+k] for each head h),
// the same bits as those two calls give when each head's selection is one chunk of
// attention_decode. With at least two KV heads per thread, each head is one task that scores,
// ranks and attends, so one core's ranking (no memory traffic) overlaps another's reading of
// its rows. kv.kv_heads == labels.kv_heads, n < kv.length.
void label_select_decode(const F32View& q, const uint32_t* channels, const TiledRows& labels, int64_t n, int64_t k,
                         const KvView& kv, float scale, uint32_t* items, const MutF32View& out);

// Indices of the k largest of s[0..n) (NaN ranks as -inf), ascending, ties to the lower index:
// the same set as attention_top_k, found in linear time (native/cpu/select_top_k.cc: a sampled
// floor, a vector collect, a histogram select on the candidates' order keys).
void top_k_ascending(const float* s, int64_t n, int64_t k, uint32_t* out);

}  // namespace sparsenn
