// RMSNorm (Llama), row by row over [rows, dim]: out = x / sqrt(mean(x²) + eps) · weight, as
// lib/nn/rmsnorm.ts. One block per row: a block-wide sum of squares, then the scaled write.
// out may be x (in place), so neither is declared __restrict__.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    rmsnorm_kernel(const float* x, const float* __restrict__ weight, int64_t dim, float eps,
                   float* out) {
  __shared__ float scratch[32];
  const float* xr = x + int64_t(blockIdx.x) * dim;
  float* yr = out + int64_t(blockIdx.x) * dim;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) ss += xr[i] * xr[i];
  const float scale = rsqrtf(block_sum(ss, scratch) / float(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) yr[i] = xr[i] * scale * weight[i];
}

}  // namespace

void rmsnorm_device(const float* x, const float* weight, int64_t rows, int64_t dim, float eps, float* out,
                    void* stream) {
  if (rows < 0 || dim <= 0) throw CudaError("ERR_SHAPE", "rmsnorm: need rows >= 0 and dim >= 1");
  if (!(eps >= 0.0f)) throw CudaError("ERR_ARG", "rmsnorm: eps must be a number >= 0");
  if (rows > 0x7fffffff) throw CudaError("ERR_SHAPE", "rmsnorm: too many rows for one launch");
  if (rows == 0) return;
  rmsnorm_kernel<<<unsigned(rows), kThreads, 0, as_stream(stream)>>>(x, weight, dim, eps, out);
  check_cuda(cudaGetLastError(), "rmsnorm launch");
}

}  // namespace sparsenn::cuda
