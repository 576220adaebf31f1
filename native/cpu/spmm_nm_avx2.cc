// N:M kernels, AVX2 variant. The 2:4 kernel works on half a metadata word (8 kept
// values = 4 groups = 16 columns): it decodes 8 indices with shift/and/add, permutes
// both 8-column halves of x with vpermps and picks per lane with a blend on index bit 3.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#define SPARSENN_VARIANT avx2
#include "spmm_nm_generic.inc"
#include "spmm_nm_prefill.inc"

#include "simd_reduce.h"
#include "simd_widen.h"

namespace sparsenn {
namespace avx2 {

namespace {

template <DType DT, int MB, int NB>
inline void tile24(const float* x, int64_t xs, const NmView& w, int64_t n0, int64_t j0, int64_t j1, float* y,
                   int64_t ys, bool accumulate) {
  const __m256i shifts_lo = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i shifts_hi = _mm256_setr_epi32(16, 18, 20, 22, 24, 26, 28, 30);
  const __m256i base = _mm256_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12);
  const __m256i three = _mm256_set1_epi32(3);
  const int64_t per_row = w.groups * 2;
  __m256 acc[MB][NB];
  for (int mi = 0; mi < MB; ++mi)
    for (int ni = 0; ni < NB; ++ni) acc[mi][ni] = _mm256_setzero_ps();
  for (int64_t j = j0; j < j1; ++j) {
    for (int half = 0; half < 2; ++half) {
      const int64_t col = j * 32 + half * 16;
      __m256 xl[MB], xh[MB];
      for (int mi = 0; mi < MB; ++mi) {
        xl[mi] = _mm256_loadu_ps(x + mi * xs + col);
        xh[mi] = _mm256_loadu_ps(x + mi * xs + col + 8);
      }
      for (int ni = 0; ni < NB; ++ni) {
        const __m256i word = _mm256_set1_epi32(int(w.meta[(n0 + ni) * w.meta_words + j]));
        const __m256i idx = _mm256_add_epi32(
            _mm256_and_si256(_mm256_srlv_epi32(word, half ? shifts_hi : shifts_lo), three), base);
        const __m256 hi_lane = _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28));  // sign bit = index >= 8
        const __m256 v = widen8<DT>(w.values, (n0 + ni) * per_row + j * 16 + half * 8);
        for (int mi = 0; mi < MB; ++mi) {
          const __m256 g = _mm256_blendv_ps(_mm256_permutevar8x32_ps(xl[mi], idx),
                                            _mm256_permutevar8x32_ps(xh[mi], idx), hi_lane);
          acc[mi][ni] = _mm256_fmadd_ps(g, v, acc[mi][ni]);
        }
      }
    }
  }
  for (int mi = 0; mi < MB; ++mi)
    for (int ni = 0; ni < NB; ++ni) {
      float& out = y[mi * ys + n0 + ni];
      const float s = hsum8(acc[mi][ni]);
      out = accumulate ? out + s : s;
    }
}

template <DType DT, int NB>
void rows24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n0, int64_t j0,
            int64_t j1, bool accumulate) {
  int64_t m = 0;
  for (; m + 2 <= M; m += 2) tile24<DT, 2, NB>(x + m * xs, xs, w, n0, j0, j1, y + m * ys, ys, accumulate);
  for (; m < M; ++m) tile24<DT, 1, NB>(x + m * xs, xs, w, n0, j0, j1, y + m * ys, ys, accumulate);
}

template <DType DT>
void block24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
             int64_t n_end, int64_t j0, int64_t j1, bool accumulate) {
  const int64_t per_row = w.groups * 2;
  const int64_t full = per_row / 16;
  const int64_t jf = j1 < full ? j1 : full;
  int64_t n = n_begin;
  for (; n + 2 <= n_end; n += 2) rows24<DT, 2>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  for (; n < n_end; ++n) rows24<DT, 1>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  if (j1 > full && per_row > full * 16) {
    for (int64_t r = n_begin; r < n_end; ++r)
      for (int64_t mi = 0; mi < M; ++mi)
        y[mi * ys + r] += nm_dot_scalar(x + mi * xs, w, r, full * 16, per_row);
  }
}

}  // namespace

void nm24_block(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
                int64_t n_end, int64_t word_begin, int64_t word_end, bool accumulate) {
  switch (w.dtype) {
    case DType::F32: return block24<DType::F32>(x, M, xs, w, y, ys, n_begin, n_end, word_begin, word_end, accumulate);
    case DType::BF16: return block24<DType::BF16>(x, M, xs, w, y, ys, n_begin, n_end, word_begin, word_end, accumulate);
    default: return block24<DType::F16>(x, M, xs, w, y, ys, n_begin, n_end, word_begin, word_end, accumulate);
  }
}

}  // namespace avx2
}  // namespace sparsenn
#endif
