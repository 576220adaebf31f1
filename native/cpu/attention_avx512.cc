// Attention inner block, avx512 variant: generic code plus 16-wide f16 widening.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>

namespace {
inline void widen_f16_avx512(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i))));
  for (; i < n; ++i) dst[i] = _cvtsh_ss(src[i]);
}
}  // namespace

#define SPARSENN_WIDEN_F16(src, dst, n) widen_f16_avx512(src, dst, n)
#define SPARSENN_VARIANT avx512
#include "attention_generic.inc"
#endif
