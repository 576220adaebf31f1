// Attention inner block, avx512 variant: its own attend_block (below), and the generic
// group_scores over 4x4 score tiles with 16-wide f16/bf16 widening.
#include "isa.h"
#if SPARSENN_X86
// GCC 12 flags its own _mm512_cvtepu16_epi32 (`__Y = __Y`) as maybe-uninitialized once inlined
// into the bf16 row loads.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "sparsenn/views.h"

namespace {
inline void widen_f16_avx512(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}
inline float dot_avx512(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

inline __mmask16 tail_mask(int64_t left) {
  return left >= 16 ? __mmask16(0xffff) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1);
}

// Sums each of 16 accumulators a[x][y] into element 4x+y of one vector: a transpose-and-add
// tree (about 45 instructions) instead of 16 separate horizontal reductions (about 150).
inline __m512 reduce16(const __m512 (&a)[4][4]) {
  __m512 v[4];
  for (int x = 0; x < 4; ++x) {
    const __m512 s01 = _mm512_add_ps(_mm512_unpacklo_ps(a[x][0], a[x][1]), _mm512_unpackhi_ps(a[x][0], a[x][1]));
    const __m512 s23 = _mm512_add_ps(_mm512_unpacklo_ps(a[x][2], a[x][3]), _mm512_unpackhi_ps(a[x][2], a[x][3]));
    // Per 128-bit lane: the lane's partial sums of a[x][0..3].
    v[x] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s01), _mm512_castps_pd(s23))),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s01), _mm512_castps_pd(s23))));
  }
  const __m512 u01 = _mm512_add_ps(_mm512_shuffle_f32x4(v[0], v[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(v[0], v[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 u23 = _mm512_add_ps(_mm512_shuffle_f32x4(v[2], v[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(v[2], v[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(u01, u23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(u01, u23, _MM_SHUFFLE(3, 1, 3, 1)));
}

inline __m128 extract_lane(__m512 v, int lane) {
  switch (lane) {
    case 0: return _mm512_extractf32x4_ps(v, 0);
    case 1: return _mm512_extractf32x4_ps(v, 1);
    case 2: return _mm512_extractf32x4_ps(v, 2);
    default: return _mm512_extractf32x4_ps(v, 3);
  }
}

// Loads 16 elements of a cached row as f32: f32 as is, f16 through F16C, bf16 by a shift.
template <sparsenn::DType T>
inline __m512 load_row(const void* row, int64_t d, __mmask16 m) {
  if (T == sparsenn::DType::F16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + d));
  if (T == sparsenn::DType::BF16)
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(row) + d)), 16));
  return _mm512_maskz_loadu_ps(m, static_cast<const float*>(row) + d);
}

// Scores of a 4-query x 4-key tile: each key chunk is loaded (and widened) once for four
// queries and each query chunk once for four keys; sixteen independent FMA chains.
template <sparsenn::DType T>
void scores_tiled(const float* q, int64_t q_stride, int64_t rows, const void* const* krows, int64_t n, int64_t D,
                  float* out, int64_t out_stride) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
      __m512 a[4][4];
      for (int x = 0; x < 4; ++x)
        for (int y = 0; y < 4; ++y) a[x][y] = _mm512_setzero_ps();
      for (int64_t d = 0; d < D; d += 16) {
        const __mmask16 m = tail_mask(D - d);
        __m512 k[4];
        for (int y = 0; y < 4; ++y) k[y] = load_row<T>(krows[j + y], d, m);
        for (int x = 0; x < 4; ++x) {
          const __m512 qv = _mm512_maskz_loadu_ps(m, q + (r + x) * q_stride + d);
          for (int y = 0; y < 4; ++y) a[x][y] = _mm512_fmadd_ps(qv, k[y], a[x][y]);
        }
      }
      const __m512 sums = reduce16(a);
      for (int x = 0; x < 4; ++x) _mm_storeu_ps(out + (r + x) * out_stride + j, extract_lane(sums, x));
    }
    for (; j < n; ++j)
      for (int x = 0; x < 4; ++x) {
        __m512 a = _mm512_setzero_ps();
        for (int64_t d = 0; d < D; d += 16) {
          const __mmask16 m = tail_mask(D - d);
          a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + (r + x) * q_stride + d), load_row<T>(krows[j], d, m), a);
        }
        out[(r + x) * out_stride + j] = _mm512_reduce_add_ps(a);
      }
  }
  for (; r < rows; ++r) {  // leftover queries: four keys at a time
    int64_t j = 0;
    for (; j < n; j += 4) {
      const int64_t kn = std::min<int64_t>(4, n - j);
      __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int64_t d = 0; d < D; d += 16) {
        const __mmask16 m = tail_mask(D - d);
        const __m512 qv = _mm512_maskz_loadu_ps(m, q + r * q_stride + d);
        for (int64_t y = 0; y < kn; ++y) a[y] = _mm512_fmadd_ps(qv, load_row<T>(krows[j + y], d, m), a[y]);
      }
      for (int64_t y = 0; y < kn; ++y) out[r * out_stride + j + y] = _mm512_reduce_add_ps(a[y]);
    }
  }
}

void scores_avx512(const float* q, int64_t q_stride, int64_t rows, const void* const* krows, sparsenn::DType t, int64_t n,
                   int64_t D, float* out, int64_t out_stride) {
  using sparsenn::DType;
  if (t == DType::F16) scores_tiled<DType::F16>(q, q_stride, rows, krows, n, D, out, out_stride);
  else if (t == DType::BF16) scores_tiled<DType::BF16>(q, q_stride, rows, krows, n, D, out, out_stride);
  else scores_tiled<DType::F32>(q, q_stride, rows, krows, n, D, out, out_stride);
}

// acc_r += Σ_j p_r[j] v_j for R queries (R a compile-time constant, so the accumulators stay in
// registers; with a runtime count the compiler spills them and every FMA waits on a store), over
// 32 dims per pass: each value chunk is loaded (and widened) once for all R queries.
template <int R, sparsenn::DType T>
void accumulate_rows_fixed(float* acc, const float* p, int64_t p_stride, const void* const* vrows, int64_t n, int64_t D) {
  for (int64_t d = 0; d < D; d += 32) {
    const __mmask16 m0 = tail_mask(D - d), m1 = tail_mask(D - d - 16);
    __m512 a0[R], a1[R];
    for (int x = 0; x < R; ++x) {
      a0[x] = _mm512_maskz_loadu_ps(m0, acc + x * D + d);
      a1[x] = _mm512_maskz_loadu_ps(m1, acc + x * D + d + 16);
    }
    for (int64_t j = 0; j < n; ++j) {
      const __m512 v0 = load_row<T>(vrows[j], d, m0);
      const __m512 v1 = load_row<T>(vrows[j], d + 16, m1);
      for (int x = 0; x < R; ++x) {
        const __m512 pj = _mm512_set1_ps(p[x * p_stride + j]);
        a0[x] = _mm512_fmadd_ps(pj, v0, a0[x]);
        a1[x] = _mm512_fmadd_ps(pj, v1, a1[x]);
      }
    }
    for (int x = 0; x < R; ++x) {
      _mm512_mask_storeu_ps(acc + x * D + d, m0, a0[x]);
      _mm512_mask_storeu_ps(acc + x * D + d + 16, m1, a1[x]);
    }
  }
}

template <sparsenn::DType T>
void accumulate_tiled(float* acc, int64_t rows, const float* p, int64_t p_stride, const void* const* vrows, int64_t n,
                      int64_t D) {
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) accumulate_rows_fixed<4, T>(acc + r * D, p + r * p_stride, p_stride, vrows, n, D);
  switch (rows - r) {
    case 3: accumulate_rows_fixed<3, T>(acc + r * D, p + r * p_stride, p_stride, vrows, n, D); break;
    case 2: accumulate_rows_fixed<2, T>(acc + r * D, p + r * p_stride, p_stride, vrows, n, D); break;
    case 1: accumulate_rows_fixed<1, T>(acc + r * D, p + r * p_stride, p_stride, vrows, n, D); break;
    default: break;
  }
}

void accumulate_avx512(float* acc, int64_t rows, const float* p, int64_t p_stride, const void* const* vrows,
                       sparsenn::DType t, int64_t n, int64_t D, float*) {
  using sparsenn::DType;
  if (t == DType::F16) accumulate_tiled<DType::F16>(acc, rows, p, p_stride, vrows, n, D);
  else if (t == DType::BF16) accumulate_tiled<DType::BF16>(acc, rows, p, p_stride, vrows, n, D);
  else accumulate_tiled<DType::F32>(acc, rows, p, p_stride, vrows, n, D);
}
}  // namespace

#define SPARSENN_WIDEN_F16(src, dst, n) widen_f16_avx512(src, dst, n)
#define SPARSENN_DOT(a, b, n) dot_avx512(a, b, n)
#define SPARSENN_SCORES_ROWS scores_avx512
#define SPARSENN_ACCUMULATE_ROWS accumulate_avx512
#define SPARSENN_DIRECT_HALF 1
#define SPARSENN_OWN_ATTEND_BLOCK 1
#define SPARSENN_VARIANT avx512
#include "attention_generic.inc"

// attend_block for AVX-512. Decode at long context must stream the cache at memory speed, and
// with GQA every key feeds a whole group of queries, so per group of up to four queries:
//  - every K and V element is widened (f16/bf16 -> f32) once and used for all queries of the group;
//  - scores come in 4-query x 4-key tiles (16 independent FMA chains), reduced by transposes;
//  - the online-softmax rescale happens once per block, folded into reloading the accumulators;
//    the exponentials run 16 wide;
//  - V·p runs 64 dims per pass with the group's accumulators in registers;
//  - the caller's next block is prefetched into L2 while this one computes (K rows during the
//    scores, V rows during the values, a few lines at a time), so memory streams while the FMAs run.
namespace sparsenn {
namespace avx512 {
namespace {

// Scores of row x sit at sc[x * kScoreStride + j]; the padding takes the tile past n.
constexpr int64_t kScoreStride = kAttendBlock + 16;

// Keys ahead, inside the block, whose rows are pulled from L2 into L1 while the current ones
// compute. The block-ahead prefetches (below) leave a block in L2, and each L1 miss on it would
// hold a fill buffer the next block's prefetches need; rows scattered by a token list suffer
// most. Harness, 32K f16, 8 KV heads, one thread, caches evicted, loaded box, best of 15 in five
// alternations: 2048-token lists 0.91 -> 0.82 ms, 16-token pages 0.72 -> 0.64 ms, dense within
// noise (2 and 8 keys ahead measured no better than 4). Only for scattered blocks (BlockRows).
constexpr int64_t kL1Ahead = 4;

// Keys ahead that a token list prefetches into L2 (attend_block).
constexpr int64_t kListAhead = 32;

// Asks for bytes [from, to) of a cached row, plus its last byte when rows are ragged, into L1.
inline void prefetch_l1(const void* row, int64_t from, int64_t to, bool last, int64_t row_bytes) {
  const char* p = static_cast<const char*>(row);
  for (int64_t c = from; c < to; c += 64) _mm_prefetch(p + c, _MM_HINT_T0);
  if (last) _mm_prefetch(p + row_bytes - 1, _MM_HINT_T0);
}


// e^x for x <= 0, 16 lanes: the polynomial of the generic exp_nonpositive, 2^k applied by
// scalef; x below -87 (and -inf, a masked key) gives exactly 0.
inline __m512 exp_nonpositive16(__m512 x) {
  const __m512 xc = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fmadd_ps(k, _mm512_set1_ps(2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.3888889e-3f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3333333e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1666667e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666667e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.0f), _CMP_GE_OQ), _mm512_scalef_ps(p, k));
}

// Rows of the cache a block reads and the rows to prefetch ahead of it.
struct BlockRows {
  const void* k[kAttendBlock];
  const void* v[kAttendBlock];
  int64_t ahead[kAttendBlock];  // byte offset (from kbase / vbase) of the key `distance` after key j
  const char* pk[kAttendBlock];  // kbase + ahead[j]: the K row to prefetch beside key j
  const char* pv[kAttendBlock];  // vbase + ahead[j]
  const char* kbase;
  const char* vbase;
  const int32_t* tokens;
  int64_t n, n_ahead_rows, row_bytes;  // keys in the block; keys j < n_ahead_rows have ahead[j]
  // Rows do not all start on a 64-byte line (a JS ArrayBuffer's store is often 16 bytes past one),
  // so a row touches one line more than row_bytes / 64: the prefetches also ask for its last byte.
  // Without that line a scattered row (Double Sparsity's token lists) waits a full miss on it:
  // 32K f16, 8 KV heads, 2048-token lists, one thread, cache 16 bytes off a line: 1.8 -> 1.1 ms
  // with caches evicted, 1.5 -> 0.51 ms from L3 (aligned: 0.9-1.0 and 0.45).
  bool ragged;
  // The block's keys are not one run of consecutive tokens (a token or page list): its own rows
  // are pulled into L1 ahead of use (kL1Ahead). A run streams well without it (the hardware
  // prefetchers follow it), and dense attention is memory-bound at 2 threads, where the extra
  // instructions measured a few percent slower.
  bool scattered;
};

// Prefetches into L2 bytes [from_byte, row_bytes) of the K rows `distance` after keys [from, to)
// of the block. (The addresses are computed up front: written as a loop over b.tokens here, GCC 12
// deleted it as dead code.)
inline void prefetch_ahead_k(const BlockRows& b, int64_t from, int64_t to, int64_t from_byte = 0) {
  to = std::min(to, b.n_ahead_rows);
  for (int64_t j = from; j < to; ++j) {
    for (int64_t c = from_byte; c < b.row_bytes; c += 64) _mm_prefetch(b.pk[j] + c, _MM_HINT_T1);
    if (b.ragged) _mm_prefetch(b.pk[j] + b.row_bytes - 1, _MM_HINT_T1);
  }
}

// sc[x][j] = q_x · k_j for R queries (R <= 4) and the block's n keys, four keys per tile; a tile
// past n repeats the last key (those scores land in the padding). With `prefetch`, each tile also
// prefetches the K rows `distance` ahead of its keys, one line per row whenever the d loop crosses
// a line of its own rows: spread out like that, the prefetches keep misses in flight while the
// FMAs run. (Against one burst of K and V prefetches per tile: 32K f16 dense, one thread, CPU
// time, minimum of 40 runs on a busy box, five alternations: 11.8 -> 12.4 GB/s. Prefetching into L1
// (T0 / NTA) instead of L2 drops it to ~8, as does no prefetch at all.)
template <sparsenn::DType T, int R>
inline void group_block_scores(const float* q, int64_t q_stride, const BlockRows& b, int64_t D, bool prefetch, float* sc) {
  constexpr int64_t es = T == sparsenn::DType::F32 ? 4 : 2;
  const int64_t full = D / 16 * 16;
  const __mmask16 tm = tail_mask(D - full);
  const int64_t n = b.n;
  for (int64_t j = 0; j < n; j += 4) {
    // Whole tiles ahead spread their prefetches through the d loop; a tile at the end of what the
    // caller announced prefetches its few rows at once.
    const bool spread = prefetch && j + 4 <= b.n_ahead_rows;
    if (prefetch && !spread) prefetch_ahead_k(b, j, j + 4);
    const void* kr[4];
    for (int y = 0; y < 4; ++y) kr[y] = b.k[std::min<int64_t>(j + y, n - 1)];
    if (prefetch && b.scattered)
      for (int y = 0; y < 4; ++y) prefetch_l1(b.k[std::min<int64_t>(j + kL1Ahead + y, n - 1)], 0, b.row_bytes, b.ragged, b.row_bytes);
    __m512 a[4][4];
    for (int x = 0; x < 4; ++x)
      for (int y = 0; y < 4; ++y) a[x][y] = _mm512_setzero_ps();
    for (int64_t d = 0; d < full; d += 16) {
      if (spread && ((d * es) & 63) == 0)
        for (int y = 0; y < 4; ++y) _mm_prefetch(b.pk[j + y] + d * es, _MM_HINT_T1);
      __m512 k[4];
      for (int y = 0; y < 4; ++y) k[y] = load_row<T>(kr[y], d, __mmask16(0xffff));
      for (int x = 0; x < R; ++x) {
        const __m512 qv = _mm512_loadu_ps(q + x * q_stride + d);
        for (int y = 0; y < 4; ++y) a[x][y] = _mm512_fmadd_ps(qv, k[y], a[x][y]);
      }
    }
    if (spread && b.ragged && full == D)  // (a tail below prefetches it with the tail lines)
      for (int y = 0; y < 4; ++y) _mm_prefetch(b.pk[j + y] + b.row_bytes - 1, _MM_HINT_T1);
    if (full < D) {
      // The lines of the rows' tails (head_dim not a multiple of 16) that the d loop did not reach.
      if (spread) prefetch_ahead_k(b, j, j + 4, (full * es + 63) / 64 * 64);
      __m512 k[4];
      for (int y = 0; y < 4; ++y) k[y] = load_row<T>(kr[y], full, tm);
      for (int x = 0; x < R; ++x) {
        const __m512 qv = _mm512_maskz_loadu_ps(tm, q + x * q_stride + full);
        for (int y = 0; y < 4; ++y) a[x][y] = _mm512_fmadd_ps(qv, k[y], a[x][y]);
      }
    }
    const __m512 sums = reduce16(a);  // rows x >= R are zero tiles, never stored
    for (int x = 0; x < R; ++x) _mm_storeu_ps(sc + x * kScoreStride + j, extract_lane(sums, x));
  }
}

// Turns R rows of raw scores into probabilities against the updated running max, updating m and
// l; alpha[x] is the factor the old accumulator must be scaled by. Query x sees tokens
// <= causal_first + x (all when causal_first < 0). Returns false when no query of the group sees
// any key yet (nothing to accumulate).
template <int R>
inline bool group_block_softmax(float* sc, const int32_t* tokens, int64_t n, int64_t causal_first, float scale, float* m,
                                float* l, float* alpha) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  const __m512 neg_inf = _mm512_set1_ps(kNegInf);
  const int64_t vecs = (n + 15) / 16;
  bool any = false;
  for (int x = 0; x < R; ++x) {
    float* s = sc + x * kScoreStride;
    __m512 v[kAttendBlock / 16];
    __m512 mx = neg_inf;
    for (int64_t i = 0; i < vecs; ++i) {
      __mmask16 valid = tail_mask(n - 16 * i);
      if (causal_first >= 0) {
        const __m512i t = _mm512_maskz_loadu_epi32(valid, tokens + 16 * i);
        valid &= _mm512_cmple_epi32_mask(t, _mm512_set1_epi32(int32_t(causal_first + x)));
      }
      v[i] = _mm512_mask_mul_ps(neg_inf, valid, _mm512_loadu_ps(s + 16 * i), _mm512_set1_ps(scale));
      mx = _mm512_max_ps(mx, v[i]);
    }
    const float new_m = std::max(m[x], _mm512_reduce_max_ps(mx));
    if (new_m == kNegInf) {  // nothing visible to this query yet: weights 0, state unchanged
      alpha[x] = 1.f;
      for (int64_t i = 0; i < vecs; ++i) _mm512_storeu_ps(s + 16 * i, _mm512_setzero_ps());
      continue;
    }
    const __m512 nm = _mm512_set1_ps(new_m);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < vecs; ++i) {
      const __m512 e = exp_nonpositive16(_mm512_sub_ps(v[i], nm));
      _mm512_storeu_ps(s + 16 * i, e);
      sum = _mm512_add_ps(sum, e);
    }
    const float a = _mm512_cvtss_f32(exp_nonpositive16(_mm512_set1_ps(m[x] - new_m)));  // m = -inf: 0
    alpha[x] = a;
    l[x] = l[x] * a + _mm512_reduce_add_ps(sum);
    m[x] = new_m;
    any = true;
  }
  return any;
}

// acc_x = alpha_x · acc_x + Σ_j p_x[j] · v_j for R queries, 64 dims per pass with the
// accumulators in registers; each V chunk is widened once for all R queries.
template <sparsenn::DType T, int R>
inline void group_block_values(float* acc, int64_t D, const float* alpha, const float* p, const BlockRows& b,
                               bool prefetch) {
  constexpr int64_t es = T == sparsenn::DType::F32 ? 4 : 2;
  const int64_t n = b.n;
  const int64_t n_pf = prefetch ? b.n_ahead_rows : 0;
  for (int64_t d = 0; d < D; d += 64) {
    // This pass reads bytes [d*es, (d+64)*es) of each V row; it prefetches the same lines of the
    // rows ahead, one key at a time.
    const int64_t pf_end = std::min((d + 64) * es, b.row_bytes);
    const bool pf_last = b.ragged && pf_end == b.row_bytes;  // the row's extra line (BlockRows::ragged)
    const bool l1 = prefetch && b.scattered;
    __mmask16 m[4];
    for (int i = 0; i < 4; ++i) m[i] = tail_mask(D - d - 16 * i);
    __m512 a[R][4];
    for (int x = 0; x < R; ++x) {
      const __m512 al = _mm512_set1_ps(alpha[x]);
      for (int i = 0; i < 4; ++i) a[x][i] = _mm512_mul_ps(al, _mm512_maskz_loadu_ps(m[i], acc + x * D + d + 16 * i));
    }
    if (m[3] == __mmask16(0xffff)) {  // a whole 64-dim slice: no masks in the hot loop
      for (int64_t j = 0; j < n; ++j) {
        if (l1) prefetch_l1(b.v[std::min<int64_t>(j + kL1Ahead, n - 1)], d * es, pf_end, pf_last, b.row_bytes);
        if (j < n_pf) {
          for (int64_t c = d * es; c < pf_end; c += 64) _mm_prefetch(b.pv[j] + c, _MM_HINT_T1);
          if (pf_last) _mm_prefetch(b.pv[j] + b.row_bytes - 1, _MM_HINT_T1);
        }
        __m512 v[4];
        for (int i = 0; i < 4; ++i) v[i] = load_row<T>(b.v[j], d + 16 * i, __mmask16(0xffff));
        for (int x = 0; x < R; ++x) {
          const __m512 pj = _mm512_set1_ps(p[x * kScoreStride + j]);
          for (int i = 0; i < 4; ++i) a[x][i] = _mm512_fmadd_ps(pj, v[i], a[x][i]);
        }
      }
    } else {
      for (int64_t j = 0; j < n; ++j) {
        if (l1) prefetch_l1(b.v[std::min<int64_t>(j + kL1Ahead, n - 1)], d * es, pf_end, pf_last, b.row_bytes);
        if (j < n_pf) {
          for (int64_t c = d * es; c < pf_end; c += 64) _mm_prefetch(b.pv[j] + c, _MM_HINT_T1);
          if (pf_last) _mm_prefetch(b.pv[j] + b.row_bytes - 1, _MM_HINT_T1);
        }
        __m512 v[4];
        for (int i = 0; i < 4; ++i) v[i] = load_row<T>(b.v[j], d + 16 * i, m[i]);
        for (int x = 0; x < R; ++x) {
          const __m512 pj = _mm512_set1_ps(p[x * kScoreStride + j]);
          for (int i = 0; i < 4; ++i) a[x][i] = _mm512_fmadd_ps(pj, v[i], a[x][i]);
        }
      }
    }
    for (int x = 0; x < R; ++x)
      for (int i = 0; i < 4; ++i) _mm512_mask_storeu_ps(acc + x * D + d + 16 * i, m[i], a[x][i]);
  }
}

template <sparsenn::DType T, int R>
void attend_group(const float* q, int64_t q_stride, int64_t causal_first, const BlockRows& b, int64_t D, bool prefetch,
                  float scale, float* m, float* l, float* acc) {
  alignas(64) float sc[R * kScoreStride];
  float alpha[R];
  group_block_scores<T, R>(q, q_stride, b, D, prefetch, sc);
  if (!group_block_softmax<R>(sc, b.tokens, b.n, causal_first, scale, m, l, alpha)) return;
  group_block_values<T, R>(acc, D, alpha, sc, b, prefetch);
}

// Groups of four queries (then the rest) over the same block; only the first group prefetches.
template <sparsenn::DType T>
void attend_rows(const float* q, int64_t q_stride, int64_t rows, int64_t causal_pos0, const BlockRows& b, int64_t D,
                 float scale, float* m, float* l, float* acc) {
  for (int64_t r = 0; r < rows; r += 4) {
    const float* qr = q + r * q_stride;
    const int64_t cf = causal_pos0 < 0 ? -1 : causal_pos0 + r;
    const bool pf = r == 0;
    float *mr = m + r, *lr = l + r, *ar = acc + r * D;
    switch (std::min<int64_t>(4, rows - r)) {
      case 4: attend_group<T, 4>(qr, q_stride, cf, b, D, pf, scale, mr, lr, ar); break;
      case 3: attend_group<T, 3>(qr, q_stride, cf, b, D, pf, scale, mr, lr, ar); break;
      case 2: attend_group<T, 2>(qr, q_stride, cf, b, D, pf, scale, mr, lr, ar); break;
      default: attend_group<T, 1>(qr, q_stride, cf, b, D, pf, scale, mr, lr, ar); break;
    }
  }
}

}  // namespace

void attend_block(const float* q, int64_t q_stride, int64_t rows, int64_t causal_pos0, const KvView& kv, int64_t h,
                  const int32_t* tokens, int64_t n, int64_t n_ahead, float scale, float* m, float* l, float* acc) {
  if (n <= 0 || rows <= 0) return;
  const int64_t es = dtype_size(kv.dtype);
  BlockRows b;
  b.kbase = static_cast<const char*>(kv.k) + h * kv.head_stride * es;
  b.vbase = static_cast<const char*>(kv.v) + h * kv.head_stride * es;
  b.tokens = tokens;
  b.n = n;
  b.row_bytes = kv.head_dim * es;
  const int64_t token_bytes = kv.token_stride * es;
  b.ragged = ((reinterpret_cast<uintptr_t>(b.kbase) | reinterpret_cast<uintptr_t>(b.vbase) | uintptr_t(token_bytes)) & 63) != 0;
  b.scattered = int64_t(tokens[n - 1]) - int64_t(tokens[0]) != n - 1;
  // A token list (Double Sparsity, TidalDecode) breaks its run at most keys; pages (Quest) every
  // page_size keys.
  int64_t breaks = 0;
  for (int64_t j = 1; j < n; ++j) breaks += tokens[j] != tokens[j - 1] + 1;
  const bool token_list = 4 * breaks > n;
  for (int64_t j = 0; j < n; ++j) {
    const int64_t off = int64_t(tokens[j]) * token_bytes;
    b.k[j] = b.kbase + off;
    b.v[j] = b.vbase + off;
  }
  // Prefetch distance: one block. The caller's next block is what this block prefetches, its K
  // rows while this block's scores run and its V rows while its values run, so prefetches go out
  // at an even pace through the whole block and each lands a block period (~several µs at the
  // default block) before it is read. (Measured, 32K f16, one thread, CPU time on a busy box,
  // medians of 5: 16 keys ahead with K and V both in the score loop 11.4 GB/s; one block ahead
  // 11.5; one block of 128 keys ahead 12.3.)
  // A token list reads a few lines per key from anywhere: a rolling kListAhead keys keeps the miss
  // queue steadier there than a block's worth in a burst. A small gain, within the noise of single
  // runs: 2048-token lists of 32K f16, 8 KV heads, 2 threads, caches evicted, alternating in one
  // process, medians 0.523 / 0.539 -> 0.505 / 0.516 ms (24 to 128 keys ahead within a few percent);
  // a harness reading the same rows with the same math, 0.635 / 0.640 -> 0.596 / 0.623 ms.
  const int64_t distance = token_list ? std::min(n, kListAhead) : n;
  b.n_ahead_rows = std::max<int64_t>(0, std::min(n, n + std::max<int64_t>(0, n_ahead) - distance));
  for (int64_t j = 0; j < b.n_ahead_rows; ++j) {
    b.ahead[j] = int64_t(tokens[j + distance]) * token_bytes;
    b.pk[j] = b.kbase + b.ahead[j];
    b.pv[j] = b.vbase + b.ahead[j];
  }
  const int64_t D = kv.head_dim;
  if (kv.dtype == DType::F16) attend_rows<DType::F16>(q, q_stride, rows, causal_pos0, b, D, scale, m, l, acc);
  else if (kv.dtype == DType::BF16) attend_rows<DType::BF16>(q, q_stride, rows, causal_pos0, b, D, scale, m, l, acc);
  else attend_rows<DType::F32>(q, q_stride, rows, causal_pos0, b, D, scale, m, l, acc);
}

}  // namespace avx512
}  // namespace sparsenn
#endif
