// Dense matmul kernels, AVX2 + FMA + F16C variant: the SIMD vocabulary of
// gemm_simd.inc in 8-lane intrinsics. Tails go through a zero-padded stack
// copy (AVX2 has no masked 16-bit load).
#include "isa.h"
#if SPARSENN_X86
// GCC 12 flags its own intrinsic headers (`__m512 __Y = __Y;`) as maybe-uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "gemm_kernels.h"

namespace sparsenn {
namespace avx2 {

namespace {

struct Simd {
  using V = __m256;
  static constexpr int kWidth = 8;

  static inline V zero() { return _mm256_setzero_ps(); }
  static inline V load(const float* p) { return _mm256_loadu_ps(p); }
  static inline V load_partial(const float* p, int n) {
    const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_maskload_ps(p, _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes));
  }
  static inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static inline V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static inline V bcast(float f) { return _mm256_set1_ps(f); }
  static inline void prefetch_l2(const void* p) { _mm_prefetch(static_cast<const char*>(p), _MM_HINT_T1); }
  static inline float hsum(V v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }

  static inline V widen16(__m128i h, DType t) {
    if (t == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
  }
  // No bf16 pair path here (AVX2 has no two-source lane permute to split X cheaply).
  static constexpr bool kBf16Pairs = false;
  static inline void load_bf16_pairs(const void*, int64_t, V&, V&) {}
  static inline void load_x_pairs(const float*, V&, V&) {}

  template <DType T>
  static inline V load_w(const void* row, int64_t k) {
    if constexpr (T == DType::F32) {
      return load(static_cast<const float*>(row) + k);
    } else {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(row) + k));
      return widen16(h, T);
    }
  }
  template <DType T>
  static inline V load_w_partial(const void* row, int64_t k, int n) {
    if constexpr (T == DType::F32) {
      return load_partial(static_cast<const float*>(row) + k, n);
    } else {
      uint16_t tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::memcpy(tmp, static_cast<const uint16_t*>(row) + k, size_t(n) * 2);
      return widen16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tmp)), T);
    }
  }
};

// GEMV: 4 W rows x 2 X rows = 8 accumulators + 4 W vectors + 1 X vector of 16 ymm;
// for M = 1, 8 W rows (8 accumulators; each W vector is used as soon as it is loaded).
constexpr int kGemvRows = 4;
constexpr int kGemvXRows = 2;
constexpr int kGemvNarrowRows = 8;
constexpr int kGemvNarrowXRows = 1;
// Single-thread, N = K = 4096 on Zen 4 (AVX2 forced): GEMV path wins up to M = 16, blocked from M = 32.
constexpr int64_t kGemvMaxRows = 16;
// GEMM microkernel: 6 rows x 2 vectors (the classic 6x16), or 8 x 1 for narrow M.
constexpr int kMaxPanelVecs = 2;
constexpr int gemm_rows(int vecs) { return vecs <= 1 ? 8 : 6; }

}  // namespace

#include "gemm_simd.inc"

}  // namespace avx2
}  // namespace sparsenn
#endif
