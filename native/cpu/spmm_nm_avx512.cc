// N:M kernels, AVX-512 variant. The 2:4 kernel decodes one metadata word (16 kept
// values = 8 groups = 32 columns) into 16 column indices with a shift, an and and an
// add, then gathers x from two registers holding those 32 columns with one
// vpermt2ps: no memory gathers. Each decoded word feeds MB rows of X, and each
// loaded X chunk feeds NB rows of W, so prefill does half the multiply-adds of dense.
#include "isa.h"
#if SPARSENN_X86
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* self-init); a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#define SPARSENN_VARIANT avx512
#include "spmm_nm_generic.inc"

namespace sparsenn {
namespace avx512 {

namespace {

template <DType DT>
inline __m512 load16(const void* values, int64_t i) {
  if constexpr (DT == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(values) + i);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(values) + i));
    if constexpr (DT == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}

// acc[mi][ni] += over full words [j0, j1): x rows m0.. (MB of them) against W rows n0.. (NB).
template <DType DT, int MB, int NB>
inline void tile24(const float* x, int64_t xs, const NmView& w, int64_t n0, int64_t j0, int64_t j1, float* y,
                   int64_t ys, bool accumulate) {
  const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
  const __m512i three = _mm512_set1_epi32(3);
  const int64_t per_row = w.groups * 2;
  const uint32_t* meta[NB];
  int64_t vrow[NB];
  for (int ni = 0; ni < NB; ++ni) {
    meta[ni] = w.meta + (n0 + ni) * w.meta_words;
    vrow[ni] = (n0 + ni) * per_row;
  }
  __m512 acc[MB][NB];
  for (int mi = 0; mi < MB; ++mi)
    for (int ni = 0; ni < NB; ++ni) acc[mi][ni] = _mm512_setzero_ps();
  for (int64_t j = j0; j < j1; ++j) {
    __m512 xl[MB], xh[MB];
    for (int mi = 0; mi < MB; ++mi) {
      xl[mi] = _mm512_loadu_ps(x + mi * xs + j * 32);
      xh[mi] = _mm512_loadu_ps(x + mi * xs + j * 32 + 16);
    }
    for (int ni = 0; ni < NB; ++ni) {
      const __m512i word = _mm512_set1_epi32(int(meta[ni][j]));
      const __m512i idx = _mm512_add_epi32(_mm512_and_si512(_mm512_srlv_epi32(word, shifts), three), base);
      const __m512 v = load16<DT>(w.values, vrow[ni] + j * 16);
      for (int mi = 0; mi < MB; ++mi)
        acc[mi][ni] = _mm512_fmadd_ps(_mm512_permutex2var_ps(xl[mi], idx, xh[mi]), v, acc[mi][ni]);
    }
  }
  for (int mi = 0; mi < MB; ++mi)
    for (int ni = 0; ni < NB; ++ni) {
      float& out = y[mi * ys + n0 + ni];
      const float s = _mm512_reduce_add_ps(acc[mi][ni]);
      out = accumulate ? out + s : s;
    }
}

template <DType DT, int NB>
void rows24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n0, int64_t j0,
            int64_t j1, bool accumulate) {
  constexpr int kMB = 4;
  int64_t m = 0;
  for (; m + kMB <= M; m += kMB) tile24<DT, kMB, NB>(x + m * xs, xs, w, n0, j0, j1, y + m * ys, ys, accumulate);
  for (; m < M; ++m) tile24<DT, 1, NB>(x + m * xs, xs, w, n0, j0, j1, y + m * ys, ys, accumulate);
}

template <DType DT>
void block24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
             int64_t n_end, int64_t j0, int64_t j1, bool accumulate) {
  const int64_t per_row = w.groups * 2;
  const int64_t full = per_row / 16;  // words holding 16 values; a last partial word is the tail
  const int64_t jf = j1 < full ? j1 : full;
  int64_t n = n_begin;
  for (; n + 4 <= n_end; n += 4) rows24<DT, 4>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  for (; n < n_end; ++n) rows24<DT, 1>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  if (j1 > full && per_row > full * 16) {
    for (int64_t r = n_begin; r < n_end; ++r)
      for (int64_t mi = 0; mi < M; ++mi) {
        // The word loop above has already written (or added to) this output.
        y[mi * ys + r] += nm_dot_scalar(x + mi * xs, w, r, full * 16, per_row);
      }
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

}  // namespace avx512
}  // namespace sparsenn
#endif
