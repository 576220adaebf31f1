// Quest page bounds on the device, the same values as the CPU (lib/backend/js/attention_select.ts,
// questPageBoundsRef): for every complete page of every KV head, the element-wise max (hi) and min
// (lo) of its keys as int8 codes times one f32 scale per page, rounded outward (hi codes up, lo
// codes down) so code · scale still bounds every key of the page: 2·D + 4 bytes per page.
//   m = the page's largest |hi_d|, |lo_d|; scale = the smallest f32 s with 127·s >= m;
//   hi code = ceil(hi / s), lo code = floor(lo / s), clamped to ±127 (quotients in double, as the
//   reference: an f32 quotient could round across an integer and break the bound);
//   a page holding NaN or ±inf gets s = +inf and codes ±127 (its bound is +inf: always read);
//   an all-zero page gets s = 0 and codes 0.
// The device layout is plain rows [kv_heads, capacity, 2·D] (hi then lo) and scales
// [kv_heads, capacity], not the CPU's 16-row SIMD tiles: a warp reads one row coalesced.
// Built incrementally: a call computes pages [page_begin, page_end) only.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kMaxThreads = 256;

// The smallest f32 s with 127·s >= m (m >= 0, finite).
__device__ __forceinline__ float page_scale(float m) {
  float s = __double2float_rn(double(m) / 127.0);
  if (double(s) * 127.0 < double(m)) s = __uint_as_float(__float_as_uint(s) + 1u);
  return s;
}

// Block (page, kv head); a thread per channel d walks the page's tokens (consecutive threads read
// consecutive channels of one key row: one coalesced read per row), then the block agrees on the
// page's scale and each thread writes its channels' codes.
__global__ void __launch_bounds__(kMaxThreads)
    page_bounds_kernel(const __half* __restrict__ k, int64_t D, int64_t head_stride, int64_t token_stride,
                       int32_t page_size, int64_t page_begin, int8_t* __restrict__ codes, float* __restrict__ scales,
                       int64_t capacity) {
  __shared__ float m_warp[kMaxThreads / 32];
  __shared__ int bad_any;
  const int64_t p = page_begin + blockIdx.x, h = blockIdx.y;
  const __half* kh = k + h * head_stride + p * page_size * token_stride;
  if (threadIdx.x == 0) bad_any = 0;
  __syncthreads();
  // Pass 1: the page's largest magnitude, and whether it holds a non-finite key.
  float m = 0.0f;
  bool bad = false;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    for (int32_t t = 0; t < page_size; ++t) {
      const float v = __half2float(kh[t * token_stride + d]);
      bad |= !isfinite(v);
      m = fmaxf(m, fabsf(v));
    }
  }
  if (bad) bad_any = 1;
  m = warp_max(m);
  if ((threadIdx.x & 31) == 0) m_warp[threadIdx.x >> 5] = m;
  __syncthreads();
  for (int w = 0; w < int(blockDim.x >> 5); ++w) m = fmaxf(m, m_warp[w]);
  const float s = bad_any ? INFINITY : page_scale(m);
  // Pass 2: codes (the page's keys are in L1/L2 from pass 1).
  int8_t* row = codes + (h * capacity + p) * 2 * D;
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    int hc = 127, lc = -127;
    if (s == 0.0f) {
      hc = lc = 0;
    } else if (isfinite(s)) {
      float hi = -INFINITY, lo = INFINITY;
      for (int32_t t = 0; t < page_size; ++t) {
        const float v = __half2float(kh[t * token_stride + d]);
        hi = fmaxf(hi, v);
        lo = fminf(lo, v);
      }
      hc = int(fminf(127.0f, fmaxf(-127.0f, float(ceil(double(hi) / double(s))))));
      lc = int(fminf(127.0f, fmaxf(-127.0f, float(floor(double(lo) / double(s))))));
    }
    row[d] = int8_t(hc);
    row[D + d] = int8_t(lc);
  }
  if (threadIdx.x == 0) scales[h * capacity + p] = s;
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
  const unsigned threads = unsigned(std::min<int64_t>(round_up(kv.head_dim, 32), kMaxThreads));
  page_bounds_kernel<<<grid, threads, 0, as_stream(stream)>>>(static_cast<const __half*>(kv.k), kv.head_dim,
                                                                kv.head_stride, kv.token_stride, page_size, page_begin,
                                                                bounds.codes, bounds.scales, bounds.capacity);
  check_cuda(cudaGetLastError(), "quest page bounds launch");
}

}  // namespace sparsenn::cuda
