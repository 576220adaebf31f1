#include "stream_read.h"

#include <algorithm>
#include <vector>

#include "isa.h"
#include "threadpool.h"

namespace sparsenn {

namespace portable {

// Four contiguous quarters read side by side (as the SIMD variants), two partial sums each.
double stream_sum(const float* data, int64_t n) {
  const int64_t len = n / 4;
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 2 <= len; i += 2)
    for (int q = 0; q < 4; ++q) {
      acc[2 * q] += data[q * len + i];
      acc[2 * q + 1] += data[q * len + i + 1];
    }
  double s = 0;
  for (int q = 0; q < 4; ++q)
    for (int64_t j = i; j < len; ++j) s += data[q * len + j];
  for (int64_t j = 4 * len; j < n; ++j) s += data[j];
  for (float a : acc) s += a;
  return s;
}

}  // namespace portable

double stream_read_sum(const float* data, int64_t n, int threads) {
  static const StreamSumFn sum = pick_kernel<StreamSumFn>(SPARSENN_X86_KERNEL(avx512::stream_sum),
                                                          SPARSENN_X86_KERNEL(avx2::stream_sum), portable::stream_sum);
  const int64_t workers = std::max<int64_t>(1, std::min<int64_t>(threads, thread_count()));
  // With the whole pool, read in a few chunks per worker taken dynamically, as the kernels it
  // is a ceiling for do, so a worker the OS delays does not leave the others idle at the end.
  // With fewer workers than the pool has, one contiguous part each keeps the count exact.
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(n / 4096, workers == thread_count() ? workers * 4 : workers));
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
