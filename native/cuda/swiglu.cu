// SwiGLU gate of the Llama MLP, in place (lib/nn/activations.ts): gate[i] = silu(gate[i]) · up[i],
// silu(x) = x / (1 + e^-x). Element-wise; expf (not __expf) keeps it within f32 rounding of the
// reference for large |x|.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

__global__ void swiglu_kernel(float* __restrict__ gate, const float* __restrict__ up, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

}  // namespace

void swiglu_device(float* gate, const float* up, int64_t n, void* stream) {
  if (n < 0) throw CudaError("ERR_SHAPE", "swiglu: n must be >= 0");
  if (n == 0) return;
  swiglu_kernel<<<unsigned(std::min<int64_t>((n + 255) / 256, 65535)), 256, 0, as_stream(stream)>>>(gate, up, n);
  check_cuda(cudaGetLastError(), "swiglu launch");
}

}  // namespace sparsenn::cuda
