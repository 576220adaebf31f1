// Activations arrive as f32. The tensor-core kernels read them as f16/bf16 packed in B-fragment
// order (tile_layout.h: one 16-byte load per lane per 8 tokens x 32 columns), zero padded; the
// row-wise kernels read them transposed ([K, tokens]) so one gather fetches every token of a column.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

// One thread per output u32 (two 16-bit elements) of the packed B-fragment layout.
template <typename T>
__global__ void pack_kernel(const float* __restrict__ x, int64_t M, int64_t K, uint32_t* __restrict__ out,
                            int64_t words, int64_t tiles_k) {
  for (int64_t w = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; w < words; w += int64_t(gridDim.x) * blockDim.x) {
    uint32_t packed = 0;
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      int64_t m, k;
      activation_coords(w, half, tiles_k, &m, &k);
      const T v = from_f32<T>(m < M && k < K ? x[m * K + k] : 0.0f);
      packed |= uint32_t(*reinterpret_cast<const uint16_t*>(&v)) << (16 * half);
    }
    out[w] = packed;
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

void launch_pack_activations(const float* x, int64_t M, int64_t K, void* out, int64_t M_pad, int64_t tiles_k,
                             DType dtype, cudaStream_t s) {
  const int64_t words = M_pad * tiles_k * kTileCols / 2;
  if (words == 0) return;
  auto* o = static_cast<uint32_t*>(out);
  if (dtype == DType::BF16) pack_kernel<__nv_bfloat16><<<grid_for(words), 256, 0, s>>>(x, M, K, o, words, tiles_k);
  else pack_kernel<__half><<<grid_for(words), 256, 0, s>>>(x, M, K, o, words, tiles_k);
  check_cuda(cudaGetLastError(), "activation packing launch");
}

void launch_transpose(const float* x, int64_t M, int64_t K, float* xt, int64_t ld, cudaStream_t s) {
  if (K * ld == 0) return;
  transpose_kernel<<<grid_for(K * ld), 256, 0, s>>>(x, M, K, xt, ld);
  check_cuda(cudaGetLastError(), "transpose launch");
}

}  // namespace sparsenn::cuda
