// Quest page bounds on the device: for every complete page of every KV head, the element-wise
// max (hi) and min (lo) of its keys, stored as bf16 rounded outward (hi up, lo down) so they
// still bound every key of the page. Same values as lib/backend/js/attention_select.ts
// (questPageBoundsRef); the layout is the device's own: plain rows [kv_heads, capacity, 2·D]
// (hi then lo) instead of the CPU's 16-row SIMD tiles, since a warp reads a row coalesced.
// Built incrementally: a call computes pages [page_begin, page_end) only.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

// x as bf16 bits rounded toward +inf (up) or -inf (down); inf and NaN are truncated unchanged.
__device__ __forceinline__ uint16_t bf16_directed(float x, bool up) {
  const uint32_t b = __float_as_uint(x);
  uint32_t h = b >> 16;
  if ((b & 0xffffu) != 0 && (b & 0x7f800000u) != 0x7f800000u) {
    const bool negative = (b >> 31) != 0;
    if (up != negative) h += 1;  // truncation moved toward zero; step away from it
  }
  return uint16_t(h & 0xffffu);
}

// Block (page, kv head); a thread per channel d walks the page's tokens (consecutive threads read
// consecutive channels of one key row, so each row is one coalesced read).
__global__ void page_bounds_kernel(const __half* __restrict__ k, int64_t D, int64_t head_stride, int64_t token_stride,
                                   int32_t page_size, int64_t page_begin, uint16_t* __restrict__ bounds,
                                   int64_t capacity) {
  const int64_t p = page_begin + blockIdx.x, h = blockIdx.y;
  const __half* kh = k + h * head_stride + p * page_size * token_stride;
  uint16_t* row = bounds + (h * capacity + p) * 2 * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float hi = -INFINITY, lo = INFINITY;
    for (int32_t t = 0; t < page_size; ++t) {
      const float v = __half2float(kh[t * token_stride + d]);
      hi = fmaxf(hi, v);
      lo = fminf(lo, v);
    }
    row[d] = bf16_directed(hi, true);
    row[D + d] = bf16_directed(lo, false);
  }
}

}  // namespace

void quest_page_bounds_device(const KvView& kv, int32_t page_size, int64_t page_begin, int64_t page_end,
                              const QuestBoundsView& bounds, void* stream) {
  if (kv.dtype != DType::F16) throw CudaError("ERR_DTYPE", "CUDA Quest page bounds need an f16 KV cache");
  if (page_size <= 0) throw CudaError("ERR_ARG", "quest page bounds: page_size must be positive");
  if (bounds.kv_heads != kv.kv_heads || bounds.head_dim != kv.head_dim)
    throw CudaError("ERR_SHAPE", "quest page bounds: bounds must have the cache's kv_heads and head_dim");
  if (page_begin < 0 || page_end < page_begin || page_end > bounds.capacity || page_end * page_size > kv.length)
    throw CudaError("ERR_SHAPE", "quest page bounds: pages [" + std::to_string(page_begin) + ", " +
                                     std::to_string(page_end) + ") must be complete pages of the cache within the capacity");
  if (page_end - page_begin > 0x7fffffff || kv.kv_heads > 65535)
    throw CudaError("ERR_SHAPE", "quest page bounds: too many pages or heads for one launch");
  if (page_end == page_begin || kv.kv_heads == 0 || kv.head_dim == 0) return;
  const dim3 grid(unsigned(page_end - page_begin), unsigned(kv.kv_heads));
  const unsigned threads = unsigned(std::min<int64_t>(round_up(kv.head_dim, 32), 256));
  page_bounds_kernel<<<grid, threads, 0, as_stream(stream)>>>(static_cast<const __half*>(kv.k), kv.head_dim,
                                                                kv.head_stride, kv.token_stride, page_size, page_begin,
                                                                bounds.data, bounds.capacity);
  check_cuda(cudaGetLastError(), "quest page bounds launch");
}

}  // namespace sparsenn::cuda
