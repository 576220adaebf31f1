// Streaming sum, AVX-512: four independent 64-byte accumulators keep enough loads
// in flight for the core to reach its share of memory bandwidth.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>

#include "stream_read.h"

namespace sparsenn {
namespace avx512 {

double stream_sum(const float* data, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(data + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(data + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(data + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(data + i + 48));
  }
  double s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
  for (; i < n; ++i) s += data[i];
  return s;
}

}  // namespace avx512
}  // namespace sparsenn
#endif
