// Streaming sum, AVX2: four contiguous quarters read side by side (see stream_read_avx512.cc).
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>

#include "stream_read.h"

namespace sparsenn {
namespace avx2 {

double stream_sum(const float* data, int64_t n) {
  const int64_t len = n / 4 / 8 * 8;  // floats per quarter, whole vectors
  const float* q0 = data;
  const float* q1 = data + len;
  const float* q2 = data + 2 * len;
  const float* q3 = data + 3 * len;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < len; i += 8) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(q0 + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(q1 + i));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(q2 + i));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(q3 + i));
  }
  const __m256 a = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
  double s = _mm_cvtss_f32(q);
  for (int64_t i = 4 * len; i < n; ++i) s += data[i];
  return s;
}

}  // namespace avx2
}  // namespace sparsenn
#endif
