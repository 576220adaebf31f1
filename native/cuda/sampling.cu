// Sampling helpers that keep the end of a decode step on the device (lib/generate/sampler.ts):
//   softmax_device: rows of logits -> probabilities of logits / temperature, in place;
//   argmax_device:  greedy pick per row, ties to the lowest index, NaN ranked as -inf;
//   sample_device:  a draw per row from unnormalised weights with a given uniform u in [0, 1):
//                   the first i with u · Σw < w[0] + … + w[i] (the reference's CDF walk), or the
//                   last positive weight when rounding leaves the walk short.
//   gather_device:  out[r, j] = x[r, idx[r, j]], to pull the top-k logits out of the vocabulary.
// Top-k sampling on the device: top_k_device (top_k.cu) -> gather_device -> softmax_device ->
// sample_device -> idx[pick]. The same distribution as lib/generate/sampler.ts, not the same draw
// for a given u: the reference walks the candidates most likely first, this walks them by index.
// One block per row; vocabularies of 32K-256K entries are a few passes over L2.
#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kThreads = 512;

__device__ __forceinline__ float block_max(float v, float* scratch) {
  v = warp_max(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < int(blockDim.x >> 5); ++w) m = fmaxf(m, scratch[w]);
  return m;
}

__global__ void __launch_bounds__(kThreads) softmax_kernel(float* __restrict__ x, int64_t n, float inv_temperature) {
  __shared__ float scratch[32];
  float* row = x + int64_t(blockIdx.x) * n;
  float mx = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) mx = fmaxf(mx, row[i] * inv_temperature);
  mx = block_max(mx, scratch);
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float e = expf(row[i] * inv_temperature - mx);
    row[i] = e;
    sum += e;
  }
  const float inv = 1.0f / block_sum(sum, scratch);
  for (int64_t i = threadIdx.x; i < n; i += kThreads) row[i] *= inv;
}

// (key, index) packed so that the larger u64 is the larger value, then the lower index.
__device__ __forceinline__ unsigned long long rank_of(float v, int64_t i) {
  return (static_cast<unsigned long long>(order_key(v)) << 32) | (0xffffffffull - static_cast<unsigned long long>(i));
}

__global__ void __launch_bounds__(kThreads) argmax_kernel(const float* __restrict__ x, int64_t n, int32_t* __restrict__ out) {
  __shared__ unsigned long long scratch[32];
  const float* row = x + int64_t(blockIdx.x) * n;
  unsigned long long best = 0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) best = max(best, rank_of(row[i], i));
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) best = max(best, __shfl_xor_sync(0xffffffffu, best, o));
  if ((threadIdx.x & 31) == 0) scratch[threadIdx.x >> 5] = best;
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kThreads / 32; ++w) best = max(best, scratch[w]);
    out[blockIdx.x] = int32_t(0xffffffffull - (best & 0xffffffffull));
  }
}

__global__ void __launch_bounds__(kThreads)
    sample_kernel(const float* __restrict__ w, int64_t n, const float* __restrict__ uniforms, int32_t* __restrict__ out) {
  __shared__ float scratch[32];
  __shared__ int found;
  const float* row = w + int64_t(blockIdx.x) * n;
  float sum = 0.0f;
  int64_t last_positive = -1;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    sum += row[i];
    if (row[i] > 0.0f) last_positive = i;
  }
  const float target = uniforms[blockIdx.x] * block_sum(sum, scratch);
  // The last positive weight, as the fallback: a block max over the threads' last ones.
  __shared__ long long fallback;
  if (threadIdx.x == 0) {
    fallback = -1;
    found = 0x7fffffff;
  }
  __syncthreads();
  atomicMax(&fallback, static_cast<long long>(last_positive));
  // The CDF walk in index order, a chunk of kThreads weights at a time.
  float before_chunk = 0.0f;
  int64_t pick = -1;
  for (int64_t base = 0; base < n; base += kThreads) {
    const int64_t i = base + threadIdx.x;
    const float v = i < n ? row[i] : 0.0f;
    float chunk_total;
    const float incl = before_chunk + block_exclusive_sum(v, scratch, &chunk_total) + v;
    if (i < n && target < incl) atomicMin(&found, int(threadIdx.x));
    __syncthreads();
    if (found != 0x7fffffff) {
      pick = base + found;
      break;
    }
    before_chunk += chunk_total;
  }
  if (threadIdx.x == 0) out[blockIdx.x] = int32_t(pick >= 0 ? pick : fallback >= 0 ? fallback : 0);
}

__global__ void gather_kernel(const float* __restrict__ x, int64_t n, const uint32_t* __restrict__ idx, int64_t rows,
                              int64_t k, float* __restrict__ out) {
  for (int64_t t = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; t < rows * k; t += int64_t(gridDim.x) * blockDim.x) {
    const uint32_t i = idx[t];
    out[t] = i < n ? x[(t / k) * n + i] : NAN;  // an index past the row reads nothing
  }
}

void check_rows(int64_t rows, int64_t n, const char* what) {
  if (rows < 0 || n <= 0) throw CudaError("ERR_SHAPE", std::string(what) + ": need rows >= 0 and n >= 1");
  if (rows > 0x7fffffff || n > 0x7fffffff) throw CudaError("ERR_SHAPE", std::string(what) + ": too large for one launch");
}

}  // namespace

void softmax_device(float* x, int64_t rows, int64_t n, float temperature, void* stream) {
  check_rows(rows, n, "softmax");
  if (!(temperature > 0.0f) || !std::isfinite(temperature))
    throw CudaError("ERR_ARG", "softmax: temperature must be a finite number > 0 (use argmax for greedy)");
  if (rows == 0) return;
  softmax_kernel<<<unsigned(rows), kThreads, 0, as_stream(stream)>>>(x, n, 1.0f / temperature);
  check_cuda(cudaGetLastError(), "softmax launch");
}

void argmax_device(const float* x, int64_t rows, int64_t n, int32_t* out, void* stream) {
  check_rows(rows, n, "argmax");
  if (rows == 0) return;
  argmax_kernel<<<unsigned(rows), kThreads, 0, as_stream(stream)>>>(x, n, out);
  check_cuda(cudaGetLastError(), "argmax launch");
}

void sample_device(const float* weights, int64_t rows, int64_t n, const float* uniforms, int32_t* out, void* stream) {
  check_rows(rows, n, "sample");
  if (rows == 0) return;
  sample_kernel<<<unsigned(rows), kThreads, 0, as_stream(stream)>>>(weights, n, uniforms, out);
  check_cuda(cudaGetLastError(), "sample launch");
}

void gather_device(const float* x, int64_t rows, int64_t n, const uint32_t* idx, int64_t k, float* out, void* stream) {
  check_rows(rows, n, "gather");
  if (k < 0) throw CudaError("ERR_SHAPE", "gather: k must be >= 0");
  if (rows * k == 0) return;
  gather_kernel<<<unsigned(std::min<int64_t>((rows * k + 255) / 256, 65535)), 256, 0, as_stream(stream)>>>(x, n, idx, rows,
                                                                                                           k, out);
  check_cuda(cudaGetLastError(), "gather launch");
}

}  // namespace sparsenn::cuda
