// Attention inner block, avx512 variant: generic code plus 16-wide f16 widening.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

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
#define SPARSENN_VARIANT avx512
#include "attention_generic.inc"
#endif
