// 2:4 sparse tensor-core matmul (mma.sp::ordered_metadata.m16n8k32, f16/bf16, f32 accumulation):
// half the weight bytes and half the multiply-adds of the dense kernel. Serves both decode
// (M <= 16: memory-bound, split-K across 8 warps) and prefill (M > 16).
#include "kernels.h"
#include "tc_fragment.cuh"

namespace sparsenn::cuda {

void launch_tc_sparse24(const DeviceWeight& w, const void* x16, int64_t M, float* y, cudaStream_t s) {
  launch_tc<true>(w, x16, M, y, s);
}

}  // namespace sparsenn::cuda
