// A plain streaming read (the sum of a large f32 buffer) over the kernel thread pool:
// the benchmark's measure of the memory bandwidth this machine reaches, taken in the
// same run as the kernels it judges (bench/dense.ts). Not a model op, so it lives
// here rather than in the public kernel API (sparsenn/ops.h).
#pragma once
#include <cstdint>

namespace sparsenn {

using StreamSumFn = double (*)(const float* data, int64_t n);

namespace portable { double stream_sum(const float* data, int64_t n); }
namespace avx2 { double stream_sum(const float* data, int64_t n); }
namespace avx512 { double stream_sum(const float* data, int64_t n); }

// Sums data[0, n) with at most `threads` workers of the pool. Each part is one contiguous
// stream (what the hardware prefetchers like best); with the whole pool there are a few
// parts per worker, scheduled dynamically like the kernels' slices.
double stream_read_sum(const float* data, int64_t n, int threads);

}  // namespace sparsenn
