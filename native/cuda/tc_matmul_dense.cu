// Dense tensor-core matmul (mma.m16n8k16, f16/bf16 weights, f32 accumulation): the dense GEMV /
// GEMM fallback, and the baseline that isolates what 2:4 sparsity buys with the same tiling.
#include "kernels.h"
#include "tc_fragment.cuh"

namespace sparsenn::cuda {

int64_t tc_rows_padding(int64_t M) { return round_up(std::max<int64_t>(M, 1), tc_tokens_per_block(M)); }

void launch_tc_dense(const DeviceWeight& w, const void* x16, int64_t M, float* y, cudaStream_t s) {
  launch_tc<false>(w, x16, M, y, s);
}

}  // namespace sparsenn::cuda
