// Top-k per row on the device, same answer as the CPU's attention_top_k: the indices of the k
// largest of n scores, ascending, ties to the lower index, NaN ranked as -inf. Used by the Quest
// selection (pages) and by top-k sampling (vocabulary).
// One block per row, no sort: a radix select finds the k-th largest key a byte at a time (four
// passes of a 256-bin histogram over the row; warp 0 finds the bin with a warp scan), then each
// thread takes a contiguous segment of the row, two block-wide prefix sums give where its
// selections go, and it writes every key above the k-th largest and the first `need` keys equal
// to it (in index order), so the output comes out ascending without a sort.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kThreads = 512;

// Warp 0: the bin (from the top) where `need` keys are reached; updates prefix and need.
__device__ __forceinline__ void find_bin(const unsigned* hist, int shift, uint32_t prefix, uint32_t* prefix_out,
                                         long long* need_io) {
  const int lane = threadIdx.x & 31;
  const long long need = *need_io;
  unsigned c[8];
  long long mine = 0;  // lane l owns bins 255 - 8l down to 248 - 8l
#pragma unroll
  for (int j = 0; j < 8; ++j) mine += (c[j] = hist[255 - 8 * lane - j]);
  long long incl = mine;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const long long up = __shfl_up_sync(0xffffffffu, incl, o);
    if (lane >= o) incl += up;
  }
  const int first = __ffs(__ballot_sync(0xffffffffu, incl >= need)) - 1;  // exists: the row holds >= need keys
  __syncwarp();
  if (lane == first) {
    long long above = incl - mine;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      if (above + c[j] >= need) {
        *prefix_out = prefix | (uint32_t(255 - 8 * lane - j) << shift);
        *need_io = need - above;
        break;
      }
      above += c[j];
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    top_k_kernel(const float* __restrict__ scores, int64_t n, int64_t ld, int64_t k, uint32_t* __restrict__ out,
                 int64_t out_ld) {
  __shared__ unsigned hist[256];
  __shared__ uint32_t prefix_s;
  __shared__ long long need_s;
  __shared__ long long scan[32];
  const float* s = scores + int64_t(blockIdx.x) * ld;
  uint32_t* o = out + int64_t(blockIdx.x) * out_ld;
  if (threadIdx.x == 0) {
    prefix_s = 0;
    need_s = k;
  }
  // Radix select: after the pass at `shift`, prefix_s holds the high bytes of the k-th largest
  // key and need_s how many keys sharing them are still to be taken.
  uint32_t mask = 0;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += kThreads) hist[b] = 0;
    __syncthreads();
    const uint32_t prefix = prefix_s;
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const uint32_t key = order_key(s[i]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (threadIdx.x < 32) find_bin(hist, shift, prefix, &prefix_s, &need_s);
    mask |= 255u << shift;
    __syncthreads();
  }
  const uint32_t threshold = prefix_s;
  const long long need = need_s;  // keys equal to the threshold to take, lowest indices first
  // Compaction over contiguous segments: count, place, write.
  const int64_t per = (n + kThreads - 1) / kThreads;
  const int64_t lo = min(n, int64_t(threadIdx.x) * per), hi = min(n, lo + per);
  long long above = 0, ties = 0;
  for (int64_t i = lo; i < hi; ++i) {
    const uint32_t key = order_key(s[i]);
    above += key > threshold;
    ties += key == threshold;
  }
  long long total;
  const long long above_before = block_exclusive_sum(above, scan, &total);
  long long tie_rank = block_exclusive_sum(ties, scan, &total);
  long long pos = above_before + min(tie_rank, need);
  for (int64_t i = lo; i < hi; ++i) {
    const uint32_t key = order_key(s[i]);
    if (key > threshold || (key == threshold && tie_rank++ < need)) o[pos++] = uint32_t(i);
  }
}

}  // namespace

void launch_top_k(const float* scores, int64_t rows, int64_t n, int64_t ld, int64_t k, uint32_t* out, int64_t out_ld,
                  cudaStream_t s) {
  if (k < 0 || k > n) throw CudaError("ERR_ARG", "top-k: need 0 <= k <= n");
  if (n > 0xffffffffLL) throw CudaError("ERR_SHAPE", "top-k: rows longer than 2^32 entries");
  if (rows > 0x7fffffffLL) throw CudaError("ERR_SHAPE", "top-k: too many rows for one launch");
  if (rows == 0 || k == 0) return;
  top_k_kernel<<<unsigned(rows), kThreads, 0, s>>>(scores, n, ld, k, out, out_ld);
  check_cuda(cudaGetLastError(), "top-k launch");
}

void top_k_device(const float* scores, int64_t rows, int64_t n, int64_t k, uint32_t* out, void* stream) {
  launch_top_k(scores, rows, n, n, k, out, k, as_stream(stream));
}

}  // namespace sparsenn::cuda
