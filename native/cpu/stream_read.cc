#include "stream_read.h"

#include <algorithm>
#include <vector>

#include "isa.h"
#include "threadpool.h"

namespace sparsenn {

namespace portable {

// Eight independent partial sums, so the adds overlap even without SIMD.
double stream_sum(const float* data, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += data[i + j];
  double s = 0;
  for (; i < n; ++i) s += data[i];
  for (float a : acc) s += a;
  return s;
}

}  // namespace portable

double stream_read_sum(const float* data, int64_t n, int threads) {
  static const StreamSumFn sum = pick_kernel<StreamSumFn>(SPARSENN_X86_KERNEL(avx512::stream_sum),
                                                          SPARSENN_X86_KERNEL(avx2::stream_sum), portable::stream_sum);
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>({int64_t(threads), int64_t(thread_count()), n}));
  // Parts start on 64-float (256-byte) boundaries so no two workers share a cache line.
  const int64_t per = (n / parts + 63) / 64 * 64;
  std::vector<double> partial(size_t(parts), 0.0);
  parallel_for(parts, [&](int64_t p) {
    const int64_t b = std::min(n, p * per);
    const int64_t e = p + 1 == parts ? n : std::min(n, (p + 1) * per);
    partial[size_t(p)] = sum(data + b, e - b);
  });
  double s = 0;
  for (double v : partial) s += v;
  return s;
}

}  // namespace sparsenn
