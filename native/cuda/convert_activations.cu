// Activations arrive as f32; the tensor-core kernels read them as f16/bf16 pairs, padded so
// every fragment load is in bounds, and the row-wise kernels read them transposed ([K, tokens])
// so one gather fetches all tokens of a column at once.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

template <typename T>
__global__ void to16_kernel(const float* __restrict__ x, int64_t M, int64_t K, T* __restrict__ out, int64_t M_pad,
                            int64_t K_pad) {
  const int64_t total = M_pad * K_pad;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t m = i / K_pad, k = i % K_pad;
    out[i] = from_f32<T>(m < M && k < K ? x[m * K + k] : 0.0f);
  }
}

__global__ void transpose_kernel(const float* __restrict__ x, int64_t M, int64_t K, float* __restrict__ xt,
                                 int64_t ld) {
  const int64_t total = K * ld;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t k = i / ld, m = i % ld;
    xt[i] = m < M ? x[m * K + k] : 0.0f;
  }
}

unsigned grid_for(int64_t n) { return unsigned(std::min<int64_t>((n + 255) / 256, 65535)); }

}  // namespace

void launch_to16(const float* x, int64_t M, int64_t K, void* out, int64_t M_pad, int64_t K_pad, DType dtype,
                 cudaStream_t s) {
  if (M_pad * K_pad == 0) return;
  if (dtype == DType::BF16)
    to16_kernel<__nv_bfloat16><<<grid_for(M_pad * K_pad), 256, 0, s>>>(x, M, K, static_cast<__nv_bfloat16*>(out),
                                                                         M_pad, K_pad);
  else
    to16_kernel<__half><<<grid_for(M_pad * K_pad), 256, 0, s>>>(x, M, K, static_cast<__half*>(out), M_pad, K_pad);
  check_cuda(cudaGetLastError(), "to16 launch");
}

void launch_transpose(const float* x, int64_t M, int64_t K, float* xt, int64_t ld, cudaStream_t s) {
  if (K * ld == 0) return;
  transpose_kernel<<<grid_for(K * ld), 256, 0, s>>>(x, M, K, xt, ld);
  check_cuda(cudaGetLastError(), "transpose launch");
}

}  // namespace sparsenn::cuda
