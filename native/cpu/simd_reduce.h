// Horizontal sums the x86 sparse kernels share. Include only from *_avx2.cc / *_avx512.cc files:
// like simd_widen.h, the helpers live in an unnamed namespace so each variant file keeps its own
// copy compiled for its own ISA (one shared inline definition could be linked into the AVX2
// variant as AVX-512 code).
#pragma once
#include <immintrin.h>

namespace sparsenn {
namespace {

#if defined(__AVX__)
// The sum of the 8 lanes of v: halves, then pairs, then the last two.
inline float hsum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

}  // namespace
}  // namespace sparsenn
