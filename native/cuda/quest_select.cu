// Quest page selection on the device (the fused step of lib/attention/quest.ts): for each KV head
// h, pages [0, current) are scored by the largest upper bound over h's GQA group of query heads,
//   bound(g, p) = scale[p] · Σ_d max(q[g,d]·hi[p,d], q[g,d]·lo[p,d])   (>= q[g]·k for every key k
//   of page p; hi, lo int8 codes, see quest_page_bounds.cu),
// then the `keep` best pages (ascending, ties to the lower page) and the current page become h's
// entries of a Pages selection that attention_decode.cu reads directly:
//   offsets[h] = h·(keep+1), items[h·(keep+1) .. +keep] = best pages, items[.. + keep] = current.
// Scores: a warp per page, lanes over channels, so the int8 row [hi, lo] is one coalesced read;
// each row is read once for the whole group (up to 8 query heads per pass).
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kHeadBatch = 8;

// Block (page block, kv head): q of the group staged in shared memory, a warp per page.
__global__ void __launch_bounds__(kWarps * 32)
    page_scores_kernel(const float* __restrict__ q, int group, int64_t D, const int8_t* __restrict__ codes,
                       const float* __restrict__ scales, int64_t capacity, int64_t pages, float* __restrict__ scores) {
  extern __shared__ float qs[];  // [group][D]
  const int64_t h = blockIdx.y;
  for (int64_t i = threadIdx.x; i < group * D; i += blockDim.x) qs[i] = q[h * group * D + i];
  __syncthreads();
  const int lane = threadIdx.x & 31;
  const int64_t p = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (p >= pages) return;
  const int8_t* row = codes + (h * capacity + p) * 2 * D;
  float best = -INFINITY;
  for (int hb = 0; hb < group; hb += kHeadBatch) {
    float acc[kHeadBatch];
#pragma unroll
    for (int j = 0; j < kHeadBatch; ++j) acc[j] = 0.0f;
    for (int64_t d = lane; d < D; d += 32) {
      const float hi = float(row[d]), lo = float(row[D + d]);
#pragma unroll
      for (int j = 0; j < kHeadBatch; ++j) {
        if (hb + j >= group) break;
        const float x = qs[(hb + j) * D + d];
        acc[j] += fmaxf(x * hi, x * lo);
      }
    }
#pragma unroll
    for (int j = 0; j < kHeadBatch; ++j) {
      if (hb + j >= group) break;
      best = fmaxf(best, warp_sum(acc[j]));
    }
  }
  if (lane == 0) scores[h * pages + p] = scales[h * capacity + p] * best;
}

__global__ void finish_selection_kernel(int64_t kv_heads, int64_t keep, int64_t current, int32_t* __restrict__ offsets,
                                        int32_t* __restrict__ items) {
  for (int64_t h = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; h <= kv_heads; h += int64_t(gridDim.x) * blockDim.x) {
    offsets[h] = int32_t(h * (keep + 1));
    if (h < kv_heads) items[h * (keep + 1) + keep] = int32_t(current);
  }
}

}  // namespace

void launch_quest_page_scores(const float* q, int64_t heads, const QuestBoundsView& b, int64_t pages, float* scores,
                              cudaStream_t s) {
  if (b.kv_heads <= 0 || heads % b.kv_heads != 0)
    throw CudaError("ERR_SHAPE", "quest scores: heads must be a positive multiple of kv_heads");
  if (pages < 0 || pages > b.capacity) throw CudaError("ERR_SHAPE", "quest scores: more pages than the bounds hold");
  const int64_t group = heads / b.kv_heads;
  const size_t smem = size_t(group * b.head_dim) * sizeof(float);
  if (smem > 48 * 1024) throw CudaError("ERR_SHAPE", "quest scores: group x head_dim too large for one block");
  if (b.kv_heads > 65535 || (pages + kWarps - 1) / kWarps > 0x7fffffff)
    throw CudaError("ERR_SHAPE", "quest scores: too many pages or heads for one launch");
  if (pages == 0 || b.head_dim == 0) return;
  const dim3 grid(unsigned((pages + kWarps - 1) / kWarps), unsigned(b.kv_heads));
  page_scores_kernel<<<grid, kWarps * 32, smem, s>>>(q, int(group), b.head_dim, b.codes, b.scales, b.capacity, pages,
                                                     scores);
  check_cuda(cudaGetLastError(), "quest scores launch");
}

void quest_select_device(const float* q, int64_t heads, const QuestBoundsView& bounds, int64_t current, int64_t keep,
                         float* scores, int32_t* offsets, int32_t* items, void* stream) {
  cudaStream_t s = as_stream(stream);
  if (keep < 0 || keep > current) throw CudaError("ERR_ARG", "quest select: need 0 <= keep <= current");
  if (current > 0x7fffffff) throw CudaError("ERR_SHAPE", "quest select: page index past int32");
  launch_quest_page_scores(q, heads, bounds, current, scores, s);
  // Page indices are < 2^31, so the int32 items can take the top-k's u32 indices in place.
  launch_top_k(scores, bounds.kv_heads, current, current, keep, reinterpret_cast<uint32_t*>(items), keep + 1, s);
  finish_selection_kernel<<<unsigned(std::min<int64_t>((bounds.kv_heads + 256) / 256, 65535)), 256, 0, s>>>(
      bounds.kv_heads, keep, current, offsets, items);
  check_cuda(cudaGetLastError(), "quest selection launch");
}

}  // namespace sparsenn::cuda
