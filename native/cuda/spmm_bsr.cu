// BSR SpMM: Y[M, N] = X[M, K] · Wᵀ with W block-sparse ([br, bc] dense blocks; see BsrView), for
// prefill and decode alike. A block of threads owns up to 64 rows of one block row of W and 32
// tokens: for each stored block of that block row it stages the block's values and the matching
// [bc, 32] slice of X (read straight from row-major X: a block column is a contiguous range of K)
// in shared memory, then each thread accumulates its (row, token) outputs in registers. W is read
// once per 32 tokens; the X slice is reused by every row of the block.
// Blocks are cropped to [rows, cols] (the zero padding of edge blocks is never multiplied into y,
// and X is never read past K); wider blocks are taken 64 columns at a time.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kTokens = 32;     // a warp's lanes
constexpr int kRowChunk = 64;   // rows of a block row per thread block
constexpr int kColChunk = 64;   // block columns staged at a time
constexpr int kSlots = kRowChunk * kTokens / kThreads;  // outputs per thread

template <typename V, typename I>
__global__ void __launch_bounds__(kThreads)
    spmm_bsr_kernel(const uint32_t* __restrict__ block_row_ptr, const I* __restrict__ block_col,
                    const V* __restrict__ vals, int64_t rows, int64_t cols, int br, int bc, int chunks_per_block_row,
                    const float* __restrict__ x, int64_t M, float* __restrict__ y) {
  __shared__ float ws[kRowChunk][kColChunk];
  __shared__ float xs[kColChunk][kTokens + 1];  // +1: lanes of a warp read one row without bank conflicts
  const int64_t r = blockIdx.x / chunks_per_block_row;
  const int i0 = int(blockIdx.x % chunks_per_block_row) * kRowChunk;  // first row of this chunk inside the block
  const int rh = min(kRowChunk, br - i0);                              // rows of this chunk
  const int64_t m0 = int64_t(blockIdx.y) * kTokens;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  float acc[kSlots];
#pragma unroll
  for (int s = 0; s < kSlots; ++s) acc[s] = 0.0f;
  const uint32_t b = block_row_ptr[r], e = block_row_ptr[r + 1];
  for (uint32_t j = b; j < e; ++j) {
    const int64_t c0 = int64_t(block_col[j]) * bc;
    const V* blk = vals + int64_t(j) * br * bc;
    for (int cc0 = 0; cc0 < bc; cc0 += kColChunk) {
      const int cw = min(kColChunk, bc - cc0);
      __syncthreads();  // the previous chunk's reads are done
      for (int t = threadIdx.x; t < rh * cw; t += kThreads) {
        const int i = t / cw, c = t % cw;
        ws[i][c] = to_f32(blk[int64_t(i0 + i) * bc + cc0 + c]);
      }
      for (int t = threadIdx.x; t < kTokens * cw; t += kThreads) {
        const int m = t / cw, c = t % cw;
        const int64_t k = c0 + cc0 + c;
        xs[c][m] = m0 + m < M && k < cols ? x[(m0 + m) * cols + k] : 0.0f;
      }
      __syncthreads();
#pragma unroll
      for (int s = 0; s < kSlots; ++s) {
        const int i = warp + s * (kThreads / 32);
        if (i >= rh) break;
        float a = acc[s];
        for (int c = 0; c < cw; ++c) a += ws[i][c] * xs[c][lane];
        acc[s] = a;
      }
    }
  }
  const int64_t m = m0 + lane;
#pragma unroll
  for (int s = 0; s < kSlots; ++s) {
    const int i = warp + s * (kThreads / 32);
    const int64_t row = r * br + i0 + i;
    if (i < rh && row < rows && m < M) y[m * rows + row] = acc[s];
  }
}

}  // namespace

void launch_spmm_bsr(const DeviceWeight& w, const float* x, int64_t M, float* y, cudaStream_t s) {
  if (w.kind != WeightKind::Bsr) throw CudaError("ERR_ARG", "spmm_bsr: not a BSR weight");
  if (M == 0 || w.rows == 0) return;
  const int64_t block_rows = (w.rows + w.block_rows - 1) / w.block_rows;
  const int64_t chunks = (w.block_rows + kRowChunk - 1) / kRowChunk;
  const int64_t token_blocks = (M + kTokens - 1) / kTokens;
  if (block_rows * chunks > 0x7fffffff || token_blocks > 65535) throw CudaError("ERR_SHAPE", "spmm_bsr: too large for one launch");
  const dim3 grid{unsigned(block_rows * chunks), unsigned(token_blocks)};
  const auto* brp = static_cast<const uint32_t*>(w.row_ptr);
  const int br = int(w.block_rows), bc = int(w.block_cols);
#define SPARSENN_SPMM_BSR(V, I)                                                                                     \
  spmm_bsr_kernel<V, I><<<grid, kThreads, 0, s>>>(brp, static_cast<const I*>(w.col_idx), static_cast<const V*>(w.values), \
                                                  w.rows, w.cols, br, bc, int(chunks), x, M, y)
  if (w.col_bytes == 2) {
    if (w.dtype == DType::F32) SPARSENN_SPMM_BSR(float, uint16_t);
    else if (w.dtype == DType::BF16) SPARSENN_SPMM_BSR(__nv_bfloat16, uint16_t);
    else SPARSENN_SPMM_BSR(__half, uint16_t);
  } else {
    if (w.dtype == DType::F32) SPARSENN_SPMM_BSR(float, uint32_t);
    else if (w.dtype == DType::BF16) SPARSENN_SPMM_BSR(__nv_bfloat16, uint32_t);
    else SPARSENN_SPMM_BSR(__half, uint32_t);
  }
#undef SPARSENN_SPMM_BSR
  check_cuda(cudaGetLastError(), "spmm_bsr launch");
}

}  // namespace sparsenn::cuda
