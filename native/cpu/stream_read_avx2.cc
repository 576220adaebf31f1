// Streaming sum, AVX2: four independent 32-byte accumulators, two cache lines per step.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>

#include "stream_read.h"

namespace sparsenn {
namespace avx2 {

double stream_sum(const float* data, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(data + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(data + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(data + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(data + i + 24));
  }
  const __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
  double s = _mm_cvtss_f32(q);
  for (; i < n; ++i) s += data[i];
  return s;
}

}  // namespace avx2
}  // namespace sparsenn
#endif
