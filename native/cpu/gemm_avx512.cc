// Dense matmul kernels, AVX-512 variant: the SIMD vocabulary of gemm_simd.inc in
// 16-lane intrinsics. bf16 widens by shifting into the high half of each lane; f16
// widens with vcvtph2ps; tails use masked loads, so no K needs padding.
#include "isa.h"
#if SPARSENN_X86
// GCC 12 flags its own intrinsic headers (`__m512 __Y = __Y;`) as maybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

#include "gemm_kernels.h"

namespace sparsenn {
namespace avx512 {

namespace {

struct Simd {
  using V = __m512;
  static constexpr int kWidth = 16;

  static inline __mmask16 mask(int n) { return __mmask16((1u << n) - 1u); }  // 0 <= n < 16
  static inline V zero() { return _mm512_setzero_ps(); }
  static inline V load(const float* p) { return _mm512_loadu_ps(p); }
  static inline V load_partial(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static inline V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static inline V bcast(float f) { return _mm512_set1_ps(f); }
  static inline float hsum(V v) { return _mm512_reduce_add_ps(v); }
  static inline void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }

  static inline V widen16(__m256i h, DType t) {
    if (t == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
  }
  // bf16 pairs: 32 bf16 of W in one 64-byte load split into even and odd elements with a
  // shift and a mask (no cross-lane widening), and the matching 32 X floats split alike.
  static constexpr bool kBf16Pairs = true;
  static inline void load_bf16_pairs(const void* row, int64_t k, V& even, V& odd) {
    const __m512i v = _mm512_loadu_si512(static_cast<const uint16_t*>(row) + k);
    even = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    odd = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(int(0xffff0000u))));
  }
  static inline void load_x_pairs(const float* x, V& even, V& odd) {
    const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const V x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
    even = _mm512_permutex2var_ps(x0, ie, x1);
    odd = _mm512_permutex2var_ps(x0, io, x1);
  }

  template <DType T>
  static inline V load_w(const void* row, int64_t k) {
    if constexpr (T == DType::F32) {
      return load(static_cast<const float*>(row) + k);
    } else {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(row) + k));
      return widen16(h, T);
    }
  }
  template <DType T>
  static inline V load_w_partial(const void* row, int64_t k, int n) {
    if constexpr (T == DType::F32) {
      return load_partial(static_cast<const float*>(row) + k, n);
    } else {
      return widen16(_mm256_maskz_loadu_epi16(mask(n), static_cast<const uint16_t*>(row) + k), T);
    }
  }
};

// GEMV: 4 W rows x 4 X rows = 16 accumulators + 4 widened W vectors + 1 X vector of 32 zmm;
// for M <= 2, 8 W rows x 2 X rows (16 accumulators + 8 W vectors).
constexpr int kGemvRows = 4;
constexpr int kGemvXRows = 4;
constexpr int kGemvNarrowRows = 8;
constexpr int kGemvNarrowXRows = 2;
// Single-thread, N = K = 4096 on Zen 4: GEMV path 8.5 ms vs blocked 12.5 ms at M = 16, even at M = 32-64.
constexpr int64_t kGemvMaxRows = 32;
// GEMM microkernel: R rows of W x VN vectors (16 X rows each); R*VN accumulators <= 24.
constexpr int kMaxPanelVecs = 4;
constexpr int gemm_rows(int vecs) { return vecs <= 2 ? 12 : vecs == 3 ? 8 : 6; }

}  // namespace

#include "gemm_simd.inc"

}  // namespace avx512
}  // namespace sparsenn
#endif
