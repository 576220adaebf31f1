// Row-wise matmul for weights the tensor cores cannot take: CSR (unstructured sparsity, any
// value type) and dense f32 (exact f32 results). One warp per output row streams that row's
// values (and column indices) once and applies them to up to 16 tokens at a time; the
// activations are transposed ([K, ld]) so the gather for one column reads all tokens at once.
// Decode (M <= 16) is memory-bound: bytes of values + indices is the whole cost.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kMaxTokens = 16;

template <typename V, typename I, int MT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    csr_rows_kernel(const uint32_t* __restrict__ row_ptr, const I* __restrict__ col, const V* __restrict__ val,
                    int64_t rows, const float* __restrict__ xt, int64_t ld, int64_t tok0, int64_t M,
                    float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  float acc[MT];
#pragma unroll
  for (int m = 0; m < MT; ++m) acc[m] = 0.0f;
  const uint32_t b = row_ptr[row], e = row_ptr[row + 1];
  for (uint32_t j = b + lane; j < e; j += 32) {
    const float v = to_f32(val[j]);
    const float* xc = xt + int64_t(col[j]) * ld + tok0;
#pragma unroll
    for (int m = 0; m < MT; ++m) acc[m] += v * __ldg(xc + m);
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    const float s = warp_sum(acc[m]);
    if (lane == m && tok0 + m < M) y[(tok0 + m) * rows + row] = s;
  }
}

template <int MT>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    dense_f32_rows_kernel(const float* __restrict__ w, int64_t rows, int64_t cols, const float* __restrict__ xt,
                          int64_t ld, int64_t tok0, int64_t M, float* __restrict__ y) {
  const int lane = threadIdx.x & 31;
  const int64_t row = int64_t(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (row >= rows) return;
  float acc[MT];
#pragma unroll
  for (int m = 0; m < MT; ++m) acc[m] = 0.0f;
  const float* wr = w + row * cols;
  for (int64_t k = lane; k < cols; k += 32) {
    const float v = __ldg(wr + k);
    const float* xc = xt + k * ld + tok0;
#pragma unroll
    for (int m = 0; m < MT; ++m) acc[m] += v * __ldg(xc + m);
  }
#pragma unroll
  for (int m = 0; m < MT; ++m) {
    const float s = warp_sum(acc[m]);
    if (lane == m && tok0 + m < M) y[(tok0 + m) * rows + row] = s;
  }
}

template <int MT>
void launch_rows(const DeviceWeight& w, const float* xt, int64_t ld, int64_t tok0, int64_t M, float* y,
                 cudaStream_t s) {
  const unsigned blocks = unsigned((w.rows + kWarpsPerBlock - 1) / kWarpsPerBlock);
  const dim3 block(kWarpsPerBlock * 32);
  if (w.kind == WeightKind::DenseF32) {
    dense_f32_rows_kernel<MT><<<blocks, block, 0, s>>>(static_cast<const float*>(w.values), w.rows, w.cols, xt, ld,
                                                       tok0, M, y);
    return;
  }
  const auto* rp = static_cast<const uint32_t*>(w.row_ptr);
#define SPARSENN_CSR(V, I)                                                                                    \
  csr_rows_kernel<V, I, MT><<<blocks, block, 0, s>>>(rp, static_cast<const I*>(w.col_idx),                  \
                                                     static_cast<const V*>(w.values), w.rows, xt, ld, tok0, M, y)
  if (w.col_bytes == 2) {
    if (w.dtype == DType::F32) SPARSENN_CSR(float, uint16_t);
    else if (w.dtype == DType::BF16) SPARSENN_CSR(__nv_bfloat16, uint16_t);
    else SPARSENN_CSR(__half, uint16_t);
  } else {
    if (w.dtype == DType::F32) SPARSENN_CSR(float, uint32_t);
    else if (w.dtype == DType::BF16) SPARSENN_CSR(__nv_bfloat16, uint32_t);
    else SPARSENN_CSR(__half, uint32_t);
  }
#undef SPARSENN_CSR
}

}  // namespace

int64_t rowwise_ld(int64_t M) {
  return M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : M <= 8 ? 8 : round_up(M, kMaxTokens);
}

void launch_rowwise(const DeviceWeight& w, const float* xt, int64_t M, float* y, cudaStream_t s) {
  if (M == 0 || w.rows == 0) return;
  const int64_t ld = rowwise_ld(M);
  for (int64_t tok0 = 0; tok0 < M; tok0 += kMaxTokens) {
    const int64_t left = M - tok0;
    if (left <= 1) launch_rows<1>(w, xt, ld, tok0, M, y, s);
    else if (left <= 2) launch_rows<2>(w, xt, ld, tok0, M, y, s);
    else if (left <= 4) launch_rows<4>(w, xt, ld, tok0, M, y, s);
    else if (left <= 8) launch_rows<8>(w, xt, ld, tok0, M, y, s);
    else launch_rows<16>(w, xt, ld, tok0, M, y, s);
  }
  check_cuda(cudaGetLastError(), "row-wise matmul launch");
}

}  // namespace sparsenn::cuda
