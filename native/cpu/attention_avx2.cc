// Attention inner block, avx2 variant: generic code plus F16C for widening f16 caches.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>

namespace {
inline void widen_f16_f16c(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}
}  // namespace

#define SPARSENN_WIDEN_F16(src, dst, n) widen_f16_f16c(src, dst, n)
#define SPARSENN_VARIANT avx2
#include "attention_generic.inc"
#endif
