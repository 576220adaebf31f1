// Top-k per row on the device, same answer as the CPU's attention_top_k: the indices of the k
// largest of n scores, ascending, ties to the lower index, NaN ranked as -inf. Used by the Quest
// selection (pages) and by top-k sampling (vocabulary).
// One block per row, no sort: a radix select finds the k-th largest key a byte at a time (four
// passes of a 256-bin histogram over the row), then one pass in index order writes every key
// above it and the first `need` keys equal to it, positions from a block-wide prefix sum.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kThreads = 512;

__global__ void __launch_bounds__(kThreads)
    top_k_kernel(const float* __restrict__ scores, int64_t n, int64_t ld, int64_t k, uint32_t* __restrict__ out,
                 int64_t out_ld) {
  __shared__ unsigned hist[256];
  __shared__ uint32_t prefix_s;
  __shared__ int64_t need_s;
  __shared__ int scan[32];
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
    if (threadIdx.x == 0) {
      int64_t above = 0;
      for (int b = 255; b >= 0; --b) {
        if (above + hist[b] >= need_s) {
          prefix_s = prefix | (uint32_t(b) << shift);
          need_s -= above;
          break;
        }
        above += hist[b];
      }
    }
    mask |= 255u << shift;
    __syncthreads();
  }
  const uint32_t threshold = prefix_s;
  const int64_t need = need_s;  // keys equal to the threshold to take, lowest indices first
  int64_t ties_seen = 0, written = 0;
  for (int64_t base = 0; base < n && written < k; base += kThreads) {
    const int64_t i = base + threadIdx.x;
    const uint32_t key = i < n ? order_key(s[i]) : 0u;
    const bool above = i < n && key > threshold, tie = i < n && key == threshold;
    int ties_here = 0, taken_here = 0;
    const int tie_rank = block_exclusive_sum(tie ? 1 : 0, scan, &ties_here);
    const bool take = above || (tie && ties_seen + tie_rank < need);
    const int pos = block_exclusive_sum(take ? 1 : 0, scan, &taken_here);
    if (take) o[written + pos] = uint32_t(i);
    ties_seen += ties_here;
    written += taken_here;
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
