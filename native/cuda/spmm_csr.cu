// CSR SpMM for prefill (M in the tens to thousands of tokens): Y[M, N] = X[M, K] · Wᵀ with W in
// CSR. The decode kernel (rowwise_matmul.cu) keeps up to 16 tokens in one warp's registers and
// would stream W's row once per 16 tokens; here a warp owns one W row and 128 tokens (4 per lane),
// so W is read once per 128 tokens and each nonzero's activations are one coalesced 512-byte
// read of the transposed X ([K, ld], from launch_transpose: a column of X is contiguous).
// Nonzeros are loaded 32 at a time, one per lane, then broadcast by shuffles.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kTokensPerLane = 4;
constexpr int kTokensPerWarp = 32 * kTokensPerLane;

template <typename V, typename I>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    spmm_csr_kernel(const uint32_t* __restrict__ row_ptr, const I* __restrict__ col, const V* __restrict__ val,
                    int64_t rows, const float* __restrict__ xt, int64_t ld, int64_t M, float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  const int64_t m = int64_t(blockIdx.y) * kTokensPerWarp + kTokensPerLane * lane;  // this lane's first token
  const bool live = m < ld;  // ld is a multiple of 4: a lane's 4 tokens are all inside or all past it
  float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  const uint32_t b = row_ptr[row], e = row_ptr[row + 1];
  for (uint32_t j0 = b; j0 < e; j0 += 32) {
    long long c = 0;
    float v = 0.0f;
    if (j0 + lane < e) {
      c = static_cast<long long>(col[j0 + lane]);
      v = to_f32(val[j0 + lane]);
    }
    const int here = int(min(32u, e - j0));
    for (int t = 0; t < here; ++t) {
      const long long ct = __shfl_sync(0xffffffffu, c, t);
      const float vt = __shfl_sync(0xffffffffu, v, t);
      if (live) {
        const float4 x = __ldg(reinterpret_cast<const float4*>(xt + ct * ld + m));
        acc.x += vt * x.x;
        acc.y += vt * x.y;
        acc.z += vt * x.z;
        acc.w += vt * x.w;
      }
    }
  }
  const float out[kTokensPerLane] = {acc.x, acc.y, acc.z, acc.w};
#pragma unroll
  for (int i = 0; i < kTokensPerLane; ++i)
    if (m + i < M) y[(m + i) * rows + row] = out[i];
}

}  // namespace

void launch_spmm_csr(const DeviceWeight& w, const float* xt, int64_t M, int64_t ld, float* y, cudaStream_t s) {
  if (w.kind != WeightKind::Csr) throw CudaError("ERR_ARG", "spmm_csr: not a CSR weight");
  if (ld % kTokensPerLane != 0 || ld < M) throw CudaError("ERR_ARG", "spmm_csr: ld must be a multiple of 4, >= M");
  if (M == 0 || w.rows == 0) return;
  const int64_t row_blocks = (w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  const int64_t token_blocks = (M + kTokensPerWarp - 1) / kTokensPerWarp;
  if (row_blocks > 0x7fffffff || token_blocks > 65535) throw CudaError("ERR_SHAPE", "spmm_csr: too large for one launch");
  const dim3 grid{unsigned(row_blocks), unsigned(token_blocks)}, block{kWarpsPerBlock * 32};
  const auto* rp = static_cast<const uint32_t*>(w.row_ptr);
#define SPARSENN_SPMM_CSR(V, I)                                                                              \
  spmm_csr_kernel<V, I><<<grid, block, 0, s>>>(rp, static_cast<const I*>(w.col_idx), static_cast<const V*>(w.values), \
                                               w.rows, xt, ld, M, y)
  if (w.col_bytes == 2) {
    if (w.dtype == DType::F32) SPARSENN_SPMM_CSR(float, uint16_t);
    else if (w.dtype == DType::BF16) SPARSENN_SPMM_CSR(__nv_bfloat16, uint16_t);
    else SPARSENN_SPMM_CSR(__half, uint16_t);
  } else {
    if (w.dtype == DType::F32) SPARSENN_SPMM_CSR(float, uint32_t);
    else if (w.dtype == DType::BF16) SPARSENN_SPMM_CSR(__nv_bfloat16, uint32_t);
    else SPARSENN_SPMM_CSR(__half, uint32_t);
  }
#undef SPARSENN_SPMM_CSR
  check_cuda(cudaGetLastError(), "spmm_csr launch");
}

}  // namespace sparsenn::cuda
