// Streaming sum, AVX-512. The range is read as four contiguous quarters side by side:
// one core keeps more misses in flight over a few streams than over one (Zen 4, one
// thread: 21 GB/s with one stream, 26 GB/s with four), and the GEMV it is the ceiling
// for also reads several W rows at once, so a one-stream read would flatter it.
#include "isa.h"
#if SPARSENN_X86
// GCC 12 flags its own _mm512_reduce_add_ps (`__m256d __Y = __Y;`) as uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <cstdint>

#include "stream_read.h"

namespace sparsenn {
namespace avx512 {

double stream_sum(const float* data, int64_t n) {
  const int64_t len = n / 4 / 16 * 16;  // floats per quarter, whole vectors
  const float* q0 = data;
  const float* q1 = data + len;
  const float* q2 = data + 2 * len;
  const float* q3 = data + 3 * len;
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t i = 0; i < len; i += 16) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(q0 + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(q1 + i));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(q2 + i));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(q3 + i));
  }
  double s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (int64_t i = 4 * len; i < n; ++i) s += data[i];
  return s;
}

}  // namespace avx512
}  // namespace sparsenn
#endif
