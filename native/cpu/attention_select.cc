// Fused key selection for Quest and Double Sparsity (see sparsenn/attention_select.h): per layer,
// one pass over the small per-row summaries (page bounds / label cache), threaded over KV heads ×
// chunks of tiles, then a linear-time top-k per head. The summaries are 1/16 of the KV bytes at
// Llama shapes, so selection costs about as much as reading the pages it picks.
#include "sparsenn/attention_select.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "attention_select_kernels.h"
#include "isa.h"
#include "sparsenn/convert.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

TileScoresFn tile_scores_kernel() {
  static const TileScoresFn kernel = pick_kernel<TileScoresFn>(
      SPARSENN_X86_KERNEL(avx512::tile_scores), SPARSENN_X86_KERNEL(avx2::tile_scores), portable::tile_scores);
  return kernel;
}

inline int64_t round_up_tile(int64_t n) { return (n + kSelectTile - 1) / kSelectTile * kSelectTile; }

inline int64_t tiled_index(const TiledRows& r, int64_t h, int64_t i, int64_t c) {
  return (h * r.capacity + i - i % kSelectTile) * r.width + c * kSelectTile + i % kSelectTile;
}

// One cached key element as f32.
inline float key_at(const KvView& kv, int64_t h, int64_t t, int64_t d) {
  const int64_t o = h * kv.head_stride + t * kv.token_stride + d;
  switch (kv.dtype) {
    case DType::F32: return static_cast<const float*>(kv.k)[o];
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(kv.k)[o]);
    default: return f16_to_f32(static_cast<const uint16_t*>(kv.k)[o]);
  }
}

inline uint32_t f32_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

// x as bf16 rounded toward +inf (up) or -inf (down), so a stored bound still bounds.
inline uint16_t bf16_directed(float x, bool up) {
  const uint32_t bits = f32_bits(x);
  uint32_t h = bits >> 16;
  if ((bits & 0xffffu) != 0 && (bits & 0x7f800000u) != 0x7f800000u) {
    const bool negative = (bits & 0x80000000u) != 0;
    if (up != negative) h += 1;  // truncation went toward zero; step away from it
  }
  return uint16_t(h & 0xffffu);
}

// Round to nearest even; NaN stays a quiet NaN (as lib/dtype.ts f32ToBf16).
inline uint16_t bf16_nearest(float x) {
  const uint32_t bits = f32_bits(x);
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) return uint16_t(((bits >> 16) | 0x40u) & 0xffffu);
  return uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// Group-max scores of rows [0, n) of every head into scores (row h at h*round_up_tile(n)), for
// per-head operands a (query group of head h at a + h*groups*a_stride).
void score_tiles(const float* a, int64_t a_stride, int64_t groups, const TiledRows& rows, int64_t n, float* scores) {
  const int64_t tiles = (n + kSelectTile - 1) / kSelectTile;
  if (tiles == 0) return;
  const TileScoresFn kernel = tile_scores_kernel();
  // About 64 KiB of rows per task: small enough to spread one head over every core, big enough
  // that the pool's per-task cost stays small beside the reading.
  const int64_t tile_bytes = rows.width * kSelectTile * 2;
  const int64_t per = std::max<int64_t>(1, (int64_t(64) << 10) / tile_bytes);
  const int64_t chunks = (tiles + per - 1) / per;
  const int64_t stride = round_up_tile(n);
  parallel_for(rows.kv_heads * chunks, [&](int64_t task) {
    const int64_t h = task / chunks, c = task % chunks;
    const int64_t t0 = c * per, t1 = std::min(tiles, t0 + per);
    kernel(a + h * groups * a_stride, a_stride, groups, rows.data + (h * rows.capacity + t0 * kSelectTile) * rows.width,
           rows.width, t1 - t0, scores + h * stride + t0 * kSelectTile);
  });
}

// Per head: the k best of its n scores, then `last`.
void top_k_per_head(int64_t kv_heads, const float* scores, int64_t n, int64_t k, uint32_t last, uint32_t* items) {
  const int64_t stride = round_up_tile(n);
  parallel_for(kv_heads, [&](int64_t h) {
    uint32_t* out = items + h * (k + 1);
    top_k_ascending(scores + h * stride, n, k, out);
    out[k] = last;
  });
}

// Monotone map of a float to an unsigned key (larger float, larger key); NaN ranks as -inf and
// -0 as +0, matching the comparisons of the reference.
inline uint32_t order_key(float x) {
  uint32_t b = f32_bits(x);
  if (std::isnan(x)) b = 0xff800000u;
  if (b == 0x80000000u) b = 0;
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

}  // namespace

void top_k_ascending(const float* s, int64_t n, int64_t k, uint32_t* out) {
  if (k <= 0) return;
  if (k >= n) {
    for (int64_t i = 0; i < n; ++i) out[i] = uint32_t(i);
    return;
  }
  // Radix select of the k-th largest key, digit by digit (11, 11, 10 bits from the top), keeping
  // only the candidates that share the prefix found so far.
  thread_local std::vector<uint32_t> keys, cand, cand_idx, sure;
  keys.resize(size_t(n));
  uint32_t hist[2048];
  std::memset(hist, 0, sizeof hist);
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = order_key(s[i]);
    keys[size_t(i)] = key;
    ++hist[key >> 21];
  }
  // Finds the bin from the top where the `need`-th largest falls; need becomes the rank inside it.
  auto find_bin = [](const uint32_t* hg, int bins, int64_t& need) {
    for (int b = bins - 1; b >= 0; --b) {
      if (need <= int64_t(hg[b])) return uint32_t(b);
      need -= hg[b];
    }
    return uint32_t(0);  // unreachable: the bins hold at least `need` keys
  };
  int64_t need = k;
  const uint32_t b1 = find_bin(hist, 2048, need);
  // Keys above the bin are in for sure; keys in it are candidates (both in index order).
  sure.clear();
  cand.clear();
  cand_idx.clear();
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t top = keys[size_t(i)] >> 21;
    if (top > b1) sure.push_back(uint32_t(i));
    else if (top == b1) {
      cand.push_back(keys[size_t(i)]);
      cand_idx.push_back(uint32_t(i));
    }
  }
  std::memset(hist, 0, sizeof hist);
  for (uint32_t key : cand) ++hist[(key >> 10) & 0x7ffu];
  const uint32_t b2 = find_bin(hist, 2048, need);
  std::memset(hist, 0, 1024 * sizeof(uint32_t));
  for (uint32_t key : cand)
    if (((key >> 10) & 0x7ffu) == b2) ++hist[key & 0x3ffu];
  const uint32_t b3 = find_bin(hist, 1024, need);
  const uint32_t threshold = (b1 << 21) | (b2 << 10) | b3;
  // `need` keys equal to the threshold are taken, the lowest indices first; merge with the sure ones.
  int64_t ties = need, j = 0;
  size_t si = 0;
  for (size_t c = 0; c < cand.size(); ++c) {
    const bool take = cand[c] > threshold || (cand[c] == threshold && ties-- > 0);
    if (!take) continue;
    while (si < sure.size() && sure[si] < cand_idx[c]) out[j++] = sure[si++];
    out[j++] = cand_idx[c];
  }
  while (si < sure.size()) out[j++] = sure[si++];
}

void quest_page_bounds(const KvView& kv, int64_t page_size, const TiledRows& bounds, int64_t page_begin, int64_t page_end) {
  const int64_t D = kv.head_dim, pages = page_end - page_begin;
  if (pages <= 0) return;
  parallel_for(kv.kv_heads * pages, [&](int64_t task) {
    const int64_t h = task / pages, p = page_begin + task % pages;
    for (int64_t d = 0; d < D; ++d) {
      float hi = -std::numeric_limits<float>::infinity(), lo = std::numeric_limits<float>::infinity();
      for (int64_t t = p * page_size; t < (p + 1) * page_size; ++t) {
        const float x = key_at(kv, h, t, d);
        hi = std::max(hi, x);
        lo = std::min(lo, x);
      }
      bounds.data[tiled_index(bounds, h, p, d)] = bf16_directed(hi, true);
      bounds.data[tiled_index(bounds, h, p, D + d)] = bf16_directed(lo, false);
    }
  });
}

void quest_select(const F32View& q, const TiledRows& bounds, int64_t current, int64_t keep, float* scores, uint32_t* items) {
  const int64_t D = bounds.width / 2, G = q.rows / bounds.kv_heads;
  // [q⁺, q⁻] per query head: Σ_d max(q_d·lo_d, q_d·hi_d) = q⁺·hi + q⁻·lo, one dot product per row.
  thread_local std::vector<float> split;
  split.resize(size_t(q.rows * 2 * D));
  for (int64_t r = 0; r < q.rows; ++r)
    for (int64_t d = 0; d < D; ++d) {
      const float x = q.data[r * q.cols + d];
      split[size_t(r * 2 * D + d)] = x > 0 ? x : 0.0f;
      split[size_t(r * 2 * D + D + d)] = x < 0 ? x : 0.0f;
    }
  score_tiles(split.data(), 2 * D, G, bounds, current, scores);
  top_k_per_head(bounds.kv_heads, scores, current, keep, uint32_t(current), items);
}

void label_cache_update(const KvView& kv, const uint32_t* channels, const TiledRows& labels, int64_t begin, int64_t end) {
  const int64_t r = labels.width, n = end - begin;
  if (n <= 0) return;
  const int64_t per = 256;  // tokens per task
  const int64_t chunks = (n + per - 1) / per;
  parallel_for(kv.kv_heads * chunks, [&](int64_t task) {
    const int64_t h = task / chunks, t0 = begin + (task % chunks) * per, t1 = std::min(end, t0 + per);
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t c = 0; c < r; ++c)
        labels.data[tiled_index(labels, h, t, c)] = bf16_nearest(key_at(kv, h, t, channels[h * r + c]));
  });
}

void label_select(const F32View& q, const uint32_t* channels, const TiledRows& labels, int64_t n, int64_t k, float* scores,
                  uint32_t* items) {
  const int64_t r = labels.width, G = q.rows / labels.kv_heads;
  // Each query head's label channels, gathered once: the operand the label rows are scored against.
  thread_local std::vector<float> gathered;
  gathered.resize(size_t(q.rows * r));
  for (int64_t g = 0; g < q.rows; ++g)
    for (int64_t c = 0; c < r; ++c) gathered[size_t(g * r + c)] = q.data[g * q.cols + channels[(g / G) * r + c]];
  score_tiles(gathered.data(), r, G, labels, n, scores);
  top_k_per_head(labels.kv_heads, scores, n, k, uint32_t(n), items);
}

}  // namespace sparsenn
