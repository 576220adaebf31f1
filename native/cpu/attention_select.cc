// Fused key selection for Quest and Double Sparsity (see sparsenn/attention_select.h): per layer,
// one pass over the small per-row summaries (page bounds / label cache), threaded over KV heads ×
// chunks of tiles, then a linear-time top-k per head. The summaries are 1/25 to 1/43 of the KV bytes
// at Llama shapes, so selection costs about as much as reading the keys it picks.
#include "sparsenn/attention_select.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "attention_kernels.h"
#include "attention_select_kernels.h"
#include "label_scores_kernels.h"
#include "isa.h"
#include "sparsenn/convert.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

// Quest's integer page scores: the VNNI kernel where the CPU has it (and D % 4 == 0), else the
// generic loops at the best ISA. All give the same bits.
QuestIntScoresFn quest_scores_generic_kernel() {
  static const QuestIntScoresFn kernel =
      pick_kernel<QuestIntScoresFn>(SPARSENN_X86_KERNEL(avx512::quest_int_scores_f32), SPARSENN_X86_KERNEL(avx2::quest_int_scores),
                                    portable::quest_int_scores);
  return kernel;
}
QuestIntScoresFn quest_scores_vnni_kernel() {
#if SPARSENN_X86
  static const QuestIntScoresFn kernel =
      cpu_has_avx512_vnni_vbmi() ? pick_kernel<QuestIntScoresFn>(avx512::quest_int_scores, nullptr, nullptr) : nullptr;
  return kernel;
#else
  return nullptr;
#endif
}

// Double Sparsity's integer label scores for 8- or 4-bit labels: VNNI where the CPU has it (and r
// is a multiple of 4, or of 8 for 4-bit codes), else the generic loops at the best ISA. All give
// the same bits.
LabelIntScoresFn label_scores_kernel(int64_t bits, int64_t r) {
  static const LabelIntScoresFn generic8 =
      pick_kernel<LabelIntScoresFn>(nullptr, SPARSENN_X86_KERNEL(avx2::label_int_scores), portable::label_int_scores);
  static const LabelIntScoresFn generic4 =
      pick_kernel<LabelIntScoresFn>(nullptr, SPARSENN_X86_KERNEL(avx2::label4_int_scores), portable::label4_int_scores);
#if SPARSENN_X86
  static const bool vnni = cpu_has_avx512_vnni_vbmi() && pick_kernel<LabelIntScoresFn>(avx512::label_int_scores, nullptr, nullptr);
  if (vnni && bits == 8 && r % 4 == 0) return avx512::label_int_scores;
  if (vnni && bits == 4 && r % 8 == 0) return avx512::label4_int_scores;
#endif
  return bits == 4 ? generic4 : generic8;
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

// Scores tiles [t0, t1) of head h into out (where tile t0 goes).
using ScoreTiles = std::function<void(int64_t h, int64_t t0, int64_t t1, float* out)>;

// A 64-byte-aligned buffer of at least n floats, one per thread, reused across calls.
float* thread_scores(int64_t n) {
  thread_local std::vector<float> buffer;
  std::vector<float>& b = buffer;
  if (b.size() < size_t(n + 16)) b.resize(size_t(n + 16));
  return reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(b.data()) + 63) & ~uintptr_t(63));
}

// The k best of head h's n scores s, followed by `last`, into items[h*(k+1) ..].
void choose(const float* s, int64_t h, int64_t n, int64_t k, uint32_t last, uint32_t* items) {
  uint32_t* out = items + h * (k + 1);
  top_k_ascending(s, n, k, out);
  out[k] = last;
}

// Head h's scores into s (by `score`), then its choice (choose).
void score_and_choose(const ScoreTiles& score, int64_t h, int64_t n, int64_t k, uint32_t last, float* s, uint32_t* items) {
  const int64_t tiles = (n + kSelectTile - 1) / kSelectTile;
  if (tiles > 0) score(h, 0, tiles, s);
  choose(s, h, n, k, last, items);
}

// Whether a layer's heads are enough to share out whole over the cores (else each head's rows
// are spread over them).
bool heads_fill_cores(int64_t kv_heads) { return kv_heads >= 2 * int64_t(thread_count()); }

// Group-max scores of rows [0, n) of every head (by `score`) into scores (row h at
// h*round_up_tile(n); null: per-thread buffers); then per head the k best of its n scores followed
// by `last`, into items[h*(k+1) ..].
void select_rows(const ScoreTiles& score, const TiledRows& rows, int64_t n, int64_t k, uint32_t last, float* scores,
                 uint32_t* items) {
  const int64_t tiles = (n + kSelectTile - 1) / kSelectTile;
  const int64_t stride = round_up_tile(n);
  const int64_t elem = rows.scales ? 1 : 2;  // int8 codes or bf16
  if (heads_fill_cores(rows.kv_heads)) {
    // One parallel region, each task scores and chooses one head (without a caller's buffer, in
    // one of the thread's own, still in L2 for the top-k).
    parallel_for(rows.kv_heads, [&](int64_t h) {
      score_and_choose(score, h, n, k, last, scores ? scores + h * stride : thread_scores(stride), items);
    });
    return;
  }
  // Few heads: spread each head's rows over the cores in chunks of about 64 KiB (small enough to
  // use every core, big enough that the pool's per-task cost stays small beside the reading), into
  // one buffer for all of them.
  float* all = scores ? scores : thread_scores(rows.kv_heads * stride);
  const int64_t tile_bytes = code_columns(rows) * kSelectTile * elem;
  const int64_t per = std::max<int64_t>(1, (int64_t(64) << 10) / tile_bytes);
  const int64_t chunks = (tiles + per - 1) / per;
  if (chunks > 0)
    parallel_for(rows.kv_heads * chunks, [&](int64_t task) {
      const int64_t h = task / chunks, c = task % chunks;
      score(h, c * per, std::min(tiles, (c + 1) * per), all + h * stride + c * per * kSelectTile);
    });
  parallel_for(rows.kv_heads, [&](int64_t h) { choose(all + h * stride, h, n, k, last, items); });
}

// The fused step of both policies: the choice by `score` of k of n rows per head, then the row n
// (the current one), into items (as select_rows), and decode attention over it into out. `kind`
// says what an entry is: a token (Indices) or a page of page_size tokens (Pages, the last one cut
// at the end of the cache). With heads enough to fill the cores, each head is one task that scores,
// ranks and attends, so one core's ranking (no memory traffic) overlaps another's reading of its
// rows; else the selection and then attention_decode, each spread over the cores.
void select_decode(const ScoreTiles& score, const TiledRows& rows, int64_t n, int64_t k, SelectionKind kind, int64_t page_size,
                   const F32View& q, const KvView& kv, float scale, uint32_t* items, const MutF32View& out) {
  if (!heads_fill_cores(rows.kv_heads)) {
    select_rows(score, rows, n, k, uint32_t(n), nullptr, items);
    std::vector<int32_t> offsets(size_t(rows.kv_heads + 1));
    for (int64_t h = 0; h <= rows.kv_heads; ++h) offsets[size_t(h)] = int32_t(h * (k + 1));
    const SelectionView sel{kind, offsets.data(), reinterpret_cast<const int32_t*>(items), int32_t(page_size)};
    attention_decode(q, kv, sel, scale, out);
    return;
  }
  const int64_t stride = round_up_tile(n);
  parallel_for(rows.kv_heads, [&](int64_t h) {
    score_and_choose(score, h, n, k, uint32_t(n), thread_scores(stride), items);
    const uint32_t* chosen = items + h * (k + 1);
    if (kind == SelectionKind::Indices) {
      attention_decode_tokens(q, kv, h, reinterpret_cast<const int32_t*>(chosen), k + 1, scale, out);
      return;
    }
    thread_local std::vector<int32_t> token_list;
    std::vector<int32_t>& tokens = token_list;
    tokens.clear();
    for (int64_t e = 0; e <= k; ++e) {
      const int64_t b = int64_t(chosen[e]) * page_size;
      for (int64_t t = b; t < std::min(b + page_size, kv.length); ++t) tokens.push_back(int32_t(t));
    }
    attention_decode_tokens(q, kv, h, tokens.data(), int64_t(tokens.size()), scale, out);
  });
}

}  // namespace

void quest_page_bounds(const KvView& kv, int64_t page_size, const TiledRows& bounds, int64_t page_begin, int64_t page_end) {
  const int64_t D = kv.head_dim, pages = page_end - page_begin;
  if (pages <= 0) return;
  int8_t* codes = static_cast<int8_t*>(bounds.data);
  parallel_for(kv.kv_heads * pages, [&](int64_t task) {
    const int64_t h = task / pages, p = page_begin + task % pages;
    thread_local std::vector<float> hi_lo;
    std::vector<float>& hl = hi_lo;
    hl.resize(size_t(2 * D));
    double m = 0;  // the largest |hi_d|, |lo_d|; NaN poisons it, as a non-finite page should
    for (int64_t d = 0; d < D; ++d) {
      float hi = -std::numeric_limits<float>::infinity(), lo = std::numeric_limits<float>::infinity();
      for (int64_t t = p * page_size; t < (p + 1) * page_size; ++t) {
        const float x = key_at(kv, h, t, d);
        if (std::isnan(x)) m = std::numeric_limits<double>::quiet_NaN();
        hi = std::max(hi, x);
        lo = std::min(lo, x);
      }
      hl[size_t(d)] = hi;
      hl[size_t(D + d)] = lo;
      m = std::isnan(m) ? m : std::max({m, std::fabs(double(hi)), std::fabs(double(lo))});
    }
    // The smallest float scale with 127*s >= m, so every code fits in int8.
    float scale = float(m / 127.0);
    if (std::isfinite(m) && double(scale) * 127.0 < m) scale = std::nextafter(scale, std::numeric_limits<float>::infinity());
    const bool finite = std::isfinite(m);
    bounds.scales[h * bounds.capacity + p] = finite ? scale : std::numeric_limits<float>::infinity();
    for (int64_t d = 0; d < D; ++d) {
      // hi rounded up, lo down: code*s still bounds every key of the page.
      double hc = 127, lc = -127;
      if (finite && scale > 0) {
        hc = std::min(127.0, std::max(-127.0, std::ceil(double(hl[size_t(d)]) / double(scale))));
        lc = std::min(127.0, std::max(-127.0, std::floor(double(hl[size_t(D + d)]) / double(scale))));
      } else if (finite) {
        hc = lc = 0;  // an all-zero page
      }
      codes[tiled_index(bounds, h, p, d)] = int8_t(hc);
      codes[tiled_index(bounds, h, p, D + d)] = int8_t(lc);
    }
  });
}

namespace {

// The largest |q_i| of a query head's n values, or NaN when one of them is NaN or infinite: what
// both query quantisations scale by (a NaN makes the head's group score NaN; below the smallest
// normal float the head is a zero query).
float query_max_abs(const float* q, int64_t n) {
  float m = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(q[i]);
    if (!(a <= std::numeric_limits<float>::max())) return std::numeric_limits<float>::quiet_NaN();  // NaN or infinite
    m = std::max(m, a);
  }
  return m;
}

// Quest's query quantisation (the js reference: questQueryCodes): u8 codes of |q_d| in units of
// max|q|/255, positive dims at u[d], negative at u[D + d]; the unit in *scale (0 for a zero query,
// NaN when q holds a NaN or infinity).
void quest_query_codes(const float* q, int64_t D, uint8_t* u, float* scale) {
  std::fill(u, u + 2 * D, uint8_t(0));
  const float m = query_max_abs(q, D);
  if (!(m >= std::numeric_limits<float>::min())) {  // NaN, or a zero (or subnormal) query: every code 0
    *scale = std::isnan(m) ? m : 0;
    return;
  }
  // f32 steps the js reference repeats with Math.fround; nearbyint rounds half to even.
  const float r = 255.0f / m;
  for (int64_t d = 0; d < D; ++d) {
    const float y = std::fabs(q[d]) * r;
    const uint8_t c = uint8_t(std::min(255.0f, std::nearbyint(y)));
    if (q[d] > 0) u[d] = c;
    else if (q[d] < 0) u[D + d] = c;
  }
  *scale = m / 255.0f;
}

// Scores tiles [t0, t1) of one KV head with an integer kernel (Quest bounds: u8 query codes, 2*dim
// a head; Double Sparsity labels: s8 codes, dim a head) for the G quantised query heads of its
// group: codes and qs point at the group's first head, rows at the head's first tile row. A head
// with a non-finite element makes its group's scores NaN (ranked last).
template <typename Code>
void score_group(void (*kernel)(const Code*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*),
                 const Code* codes, const float* qs, int64_t G, const int8_t* rows, const float* row_scales, int64_t dim,
                 int64_t tiles, float* out) {
  for (int64_t g = 0; g < G; ++g)
    if (std::isnan(qs[g])) {
      std::fill(out, out + tiles * kSelectTile, std::numeric_limits<float>::quiet_NaN());
      return;
    }
  kernel(codes, qs, G, rows, row_scales, dim, tiles, out);
}

// Double Sparsity's query quantisation (the js reference: labelQueryCodes): signed 8-bit codes of
// q_c in units of max|q|/127; the unit in *scale (0 for a zero query, NaN when q holds a NaN or
// infinity).
void label_query_codes(const float* q, int64_t r, int8_t* codes, float* scale) {
  *scale = 0;
  if (r <= 0) return;  // (also tells GCC the fill below has a sane length)
  std::fill(codes, codes + r, int8_t(0));
  const float m = query_max_abs(q, r);
  if (!(m >= std::numeric_limits<float>::min())) {  // NaN, or a zero (or subnormal) query: every code 0
    *scale = std::isnan(m) ? m : 0;
    return;
  }
  // f32 steps the js reference repeats with Math.fround; nearbyint rounds half to even.
  const float k = 127.0f / m;
  for (int64_t c = 0; c < r; ++c) {
    const int code = int(std::min(127.0f, std::nearbyint(std::fabs(q[c]) * k)));
    codes[c] = int8_t(q[c] < 0 ? -code : code);
  }
  *scale = m / 127.0f;
}

// Quest's scorer for one call: every query head as u8 codes of |q_d| (positive dims first, then
// negative) and its unit (in buffers of the calling thread, which the scorer reads until that
// thread's next call), and the integer kernel over a head's page tiles.
ScoreTiles quest_scorer(const F32View& q, const TiledRows& bounds) {
  const int64_t D = bounds.width / 2, G = q.rows / bounds.kv_heads;
  thread_local std::vector<uint8_t> codes;
  thread_local std::vector<float> qscales;
  std::vector<uint8_t>& u = codes;
  std::vector<float>& qs = qscales;
  u.resize(size_t(q.rows * 2 * D));
  qs.resize(size_t(q.rows));
  for (int64_t g = 0; g < q.rows; ++g) quest_query_codes(q.data + g * q.cols, D, u.data() + g * 2 * D, &qs[size_t(g)]);
  const QuestIntScoresFn vnni = quest_scores_vnni_kernel();
  const QuestIntScoresFn kernel = vnni && D % 4 == 0 ? vnni : quest_scores_generic_kernel();
  const int8_t* data = static_cast<const int8_t*>(bounds.data);
  const uint8_t* ud = u.data();
  const float* qsd = qs.data();
  return [=](int64_t h, int64_t t0, int64_t t1, float* out) {
    const int64_t first = h * bounds.capacity + t0 * kSelectTile;
    score_group(kernel, ud + h * G * 2 * D, qsd + h * G, G, data + first * bounds.width, bounds.scales + first, D, t1 - t0, out);
  };
}

}  // namespace

void quest_select(const F32View& q, const TiledRows& bounds, int64_t current, int64_t keep, float* scores, uint32_t* items) {
  select_rows(quest_scorer(q, bounds), bounds, current, keep, uint32_t(current), scores, items);
}

void quest_select_decode(const F32View& q, const TiledRows& bounds, int64_t current, int64_t keep, int64_t page_size,
                         const KvView& kv, float scale, uint32_t* items, const MutF32View& out) {
  select_decode(quest_scorer(q, bounds), bounds, current, keep, SelectionKind::Pages, page_size, q, kv, scale, items, out);
}

void label_cache_update(const KvView& kv, const uint32_t* channels, const TiledRows& labels, int64_t begin, int64_t end) {
  const int64_t r = labels.width, n = end - begin;
  const double qmax = labels.code_bits == 4 ? 7 : 127;  // the largest code
  // Byte columns: one per channel, or one per pair of 4-bit channels (tiled_index at width = columns).
  const TiledRows columns{labels.data, labels.scales, labels.kv_heads, labels.capacity, code_columns(labels), labels.code_bits};
  if (n <= 0) return;
  const int64_t per = 256;  // tokens per task
  const int64_t chunks = (n + per - 1) / per;
  int8_t* codes = static_cast<int8_t*>(labels.data);
  parallel_for(kv.kv_heads * chunks, [&](int64_t task) {
    const int64_t h = task / chunks, t0 = begin + (task % chunks) * per, t1 = std::min(end, t0 + per);
    for (int64_t t = t0; t < t1; ++t) {
      // The token's scale: the smallest float s with qmax*s >= max_c |k_c| (NaN when a label
      // channel is not finite: the token then scores NaN and ranks last).
      double m = 0;
      for (int64_t c = 0; c < r; ++c) {
        const float x = key_at(kv, h, t, channels[h * r + c]);
        m = std::isfinite(x) && std::isfinite(m) ? std::max(m, std::fabs(double(x))) : std::numeric_limits<double>::quiet_NaN();
      }
      float scale = float(m / qmax);
      if (std::isfinite(m) && double(scale) * qmax < m) scale = std::nextafter(scale, std::numeric_limits<float>::infinity());
      labels.scales[h * labels.capacity + t] = scale;
      for (int64_t c = 0; c < r; ++c) {
        // Nearest, half to even (as the reference); |k/s| <= qmax by the choice of s.
        double code = 0;
        if (std::isfinite(m) && scale > 0) code = std::min(qmax, std::max(-qmax, std::nearbyint(double(key_at(kv, h, t, channels[h * r + c])) / double(scale))));
        if (labels.code_bits == 8) {
          codes[tiled_index(labels, h, t, c)] = int8_t(code);
          continue;
        }
        // Two channels a byte: the even one in the low nibble (a row's pad nibble stays 0).
        int8_t& byte = codes[tiled_index(columns, h, t, c / 2)];
        const uint8_t nibble = uint8_t(int(code)) & 0x0f;
        byte = int8_t(c % 2 == 0 ? nibble : (uint8_t(byte) & 0x0f) | (nibble << 4));
      }
    }
  });
}

namespace {

// Double Sparsity's scorer for one call: each query head's label channels, gathered and rounded to
// signed 8-bit codes with a unit per head (in buffers of the calling thread, which the scorer reads
// until that thread's next call), and the integer kernel over a head's tiles.
ScoreTiles label_scorer(const F32View& q, const uint32_t* channels, const TiledRows& labels) {
  const int64_t r = labels.width, G = q.rows / labels.kv_heads;
  thread_local std::vector<float> gathered;
  thread_local std::vector<int8_t> codes;
  thread_local std::vector<float> qscales;
  std::vector<float>& a = gathered;
  std::vector<int8_t>& c8 = codes;
  std::vector<float>& qs = qscales;
  a.resize(size_t(r));
  c8.resize(size_t(q.rows * r));
  qs.resize(size_t(q.rows));
  for (int64_t g = 0; g < q.rows; ++g) {
    for (int64_t c = 0; c < r; ++c) a[size_t(c)] = q.data[g * q.cols + channels[(g / G) * r + c]];
    label_query_codes(a.data(), r, c8.data() + g * r, &qs[size_t(g)]);
  }
  const LabelIntScoresFn kernel = label_scores_kernel(labels.code_bits, r);
  const int64_t columns = code_columns(labels);
  const int8_t* data = static_cast<const int8_t*>(labels.data);
  const int8_t* c8d = c8.data();
  const float* qsd = qs.data();
  return [=](int64_t h, int64_t t0, int64_t t1, float* out) {
    const int64_t first = h * labels.capacity + t0 * kSelectTile;
    score_group(kernel, c8d + h * G * r, qsd + h * G, G, data + first * columns, labels.scales + first, r, t1 - t0, out);
  };
}

}  // namespace

void label_select(const F32View& q, const uint32_t* channels, const TiledRows& labels, int64_t n, int64_t k, float* scores,
                  uint32_t* items) {
  select_rows(label_scorer(q, channels, labels), labels, n, k, uint32_t(n), scores, items);
}

void label_select_decode(const F32View& q, const uint32_t* channels, const TiledRows& labels, int64_t n, int64_t k,
                         const KvView& kv, float scale, uint32_t* items, const MutF32View& out) {
  select_decode(label_scorer(q, channels, labels), labels, n, k, SelectionKind::Indices, 0, q, kv, scale, items, out);
}

}  // namespace sparsenn
