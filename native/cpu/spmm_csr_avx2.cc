// CSR kernels, AVX2 variant. The gather form (decode) is hand-written: 8 nonzeros
// per step, indices clamped to K - 1 (unsigned min) before vgatherdps and their
// running maximum checked once per call (so corrupted indices are never
// dereferenced), bf16/f16 widened in register. Prefill: the K-blocked packed form of spmm_csr_blocked.inc (16-row X panels);
// the generic packed form (auto-vectorised along M) stays for a build without it.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>

#include "sparsenn/convert.h"
#include "sparsenn/views.h"
#include "spmm_csr_kernels.h"

#define SPARSENN_VARIANT avx2
#define SPARSENN_CSR_OWN_GATHER 1
#include "spmm_csr_generic.inc"
#include "spmm_csr_blocked.inc"

#include "element_f32.h"
#include "simd_reduce.h"
#include "simd_widen.h"

namespace sparsenn {
namespace avx2 {

namespace {

template <typename IT>
inline __m256i load8_indices(const IT* idx, int64_t j) {
  if constexpr (sizeof(IT) == 2) return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(idx + j)));
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j));
}

template <DType DT, typename IT, int MR>
bool gather8_rows(const CsrView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t nb, int64_t ne) {
  const IT* idx = static_cast<const IT*>(w.col_idx);
  const uint64_t K = uint64_t(w.cols);
  if (K == 0) {  // no column exists to clamp to: any nonzero is a bad index
    for (int64_t n = nb; n < ne; ++n)
      for (int m = 0; m < MR; ++m) y[m * ldy + n] = 0.f;
    return w.row_ptr[ne] == w.row_ptr[nb];
  }
  // Unsigned min/max: u32 indices >= 2^31 are large values, clamped and caught like any other.
  const __m256i vK1 = _mm256_set1_epi32(int32_t(K - 1));
  __m256i hi = _mm256_setzero_si256();
  bool ok = true;
  for (int64_t n = nb; n < ne; ++n) {
    __m256 acc0[MR], acc1[MR];
    for (int m = 0; m < MR; ++m) acc0[m] = acc1[m] = _mm256_setzero_ps();
    int64_t j = w.row_ptr[n];
    const int64_t e = w.row_ptr[n + 1];
    for (; j + 16 <= e; j += 16) {
      const __m256i i0 = load8_indices(idx, j), i1 = load8_indices(idx, j + 8);
      hi = _mm256_max_epu32(hi, _mm256_max_epu32(i0, i1));
      const __m256i s0 = _mm256_min_epu32(i0, vK1), s1 = _mm256_min_epu32(i1, vK1);
      const __m256 v0 = widen8<DT>(w.values, j), v1 = widen8<DT>(w.values, j + 8);
      for (int m = 0; m < MR; ++m) {
        const __m256 g0 = _mm256_i32gather_ps(x + m * ldx, s0, 4);
        const __m256 g1 = _mm256_i32gather_ps(x + m * ldx, s1, 4);
        acc0[m] = _mm256_fmadd_ps(v0, g0, acc0[m]);
        acc1[m] = _mm256_fmadd_ps(v1, g1, acc1[m]);
      }
    }
    float tail[MR] = {};
    for (; j < e; ++j) {
      const uint64_t c = idx[j];
      if (c >= K) { ok = false; continue; }
      const float v = element_f32<DT>(w.values, j);
      for (int m = 0; m < MR; ++m) tail[m] += v * x[m * ldx + c];
    }
    for (int m = 0; m < MR; ++m) {
      y[m * ldy + n] = hsum8(_mm256_add_ps(acc0[m], acc1[m])) + tail[m];
    }
  }
  // All lanes of hi <= K - 1 exactly when max(hi, K - 1) == K - 1 in every lane.
  const __m256i within = _mm256_cmpeq_epi32(_mm256_max_epu32(hi, vK1), vK1);
  return ok && _mm256_movemask_epi8(within) == -1;
}

template <DType DT, typename IT>
bool gather_for(const CsrView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb, int64_t ne) {
  switch (mr) {
    case 1: return gather8_rows<DT, IT, 1>(w, x, ldx, y, ldy, nb, ne);
    case 2: return gather8_rows<DT, IT, 2>(w, x, ldx, y, ldy, nb, ne);
    case 3: return gather8_rows<DT, IT, 3>(w, x, ldx, y, ldy, nb, ne);
    case 4: return gather8_rows<DT, IT, 4>(w, x, ldx, y, ldy, nb, ne);
    case 5: return gather8_rows<DT, IT, 5>(w, x, ldx, y, ldy, nb, ne);
    case 6: return gather8_rows<DT, IT, 6>(w, x, ldx, y, ldy, nb, ne);
    case 7: return gather8_rows<DT, IT, 7>(w, x, ldx, y, ldy, nb, ne);
    default: return gather8_rows<DT, IT, 8>(w, x, ldx, y, ldy, nb, ne);
  }
}

}  // namespace

bool csr_gather_rows(const CsrView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb,
                     int64_t ne) {
  const bool u16 = w.index_bits == 16;
  switch (w.dtype) {
    case DType::F32: return u16 ? gather_for<DType::F32, uint16_t>(w, x, ldx, mr, y, ldy, nb, ne)
                                : gather_for<DType::F32, uint32_t>(w, x, ldx, mr, y, ldy, nb, ne);
    case DType::BF16: return u16 ? gather_for<DType::BF16, uint16_t>(w, x, ldx, mr, y, ldy, nb, ne)
                                 : gather_for<DType::BF16, uint32_t>(w, x, ldx, mr, y, ldy, nb, ne);
    default: return u16 ? gather_for<DType::F16, uint16_t>(w, x, ldx, mr, y, ldy, nb, ne)
                        : gather_for<DType::F16, uint32_t>(w, x, ldx, mr, y, ldy, nb, ne);
  }
}

}  // namespace avx2
}  // namespace sparsenn
#endif
