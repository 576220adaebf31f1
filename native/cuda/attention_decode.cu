// Decode attention (one new query per head) over an f16 KV cache, dense or restricted to a
// per-KV-head list of pages / token indices, with GQA and split-K (flash-decoding):
//   pass 1: block (kv head, split) scores its chunk of selected slots for every query head of
//           the GQA group, so the chunk's K and V rows are fetched from memory once per group;
//           writes an unnormalised partial output with its running max and sum.
//   pass 2: merges the splits of each query head with log-sum-exp weights.
// Slots: All -> slot s is token s; Pages -> slot s is token items[e]*page_size + s % page_size,
// e = s / page_size (tokens >= length are skipped, so a partial last page is fine);
// Indices are pages of size one.
#include <cfloat>

#include "device_common.cuh"
#include "kernels.h"

namespace sparsenn::cuda {

namespace {

constexpr int kThreads = 128;

struct Slots {
  SelectionKind kind;
  const int32_t* offsets;
  const int32_t* items;
  int32_t page_size;
  int64_t length;
  __device__ int64_t count(int64_t kvh) const {
    if (kind == SelectionKind::All) return length;
    return int64_t(offsets[kvh + 1] - offsets[kvh]) * page_size;
  }
  __device__ int64_t token(int64_t kvh, int64_t s) const {
    if (kind == SelectionKind::All) return s;
    const int64_t item = items[offsets[kvh] + s / page_size];
    const int64_t tok = item * page_size + s % page_size;
    return tok < length && item >= 0 ? tok : -1;
  }
};

constexpr int kHeadBatch = 8;  // query heads of a GQA group handled per pass over K / V rows

// Pass 1 of flash-decoding for one (KV head, split): scores, softmax statistics and the
// unnormalised partial output of every query head of the group. K and V rows are read once per
// batch of up to 8 query heads (so once for the usual GQA groups of <= 8).
template <bool kVec>
__global__ void __launch_bounds__(kThreads)
    decode_partial_kernel(const float* __restrict__ q, const __half* __restrict__ kc, const __half* __restrict__ vc,
                          int64_t D, int64_t head_stride, int64_t token_stride, Slots slots, int group, int chunk,
                          float scale, float* __restrict__ ws_o, float* __restrict__ ws_ml, int splits) {
  extern __shared__ float smem[];
  float* p = smem;                                               // [group][chunk] scores, then weights
  int64_t* tok = reinterpret_cast<int64_t*>(p + group * chunk);  // [chunk] token of each slot, -1 if none
  float* stat = reinterpret_cast<float*>(tok + chunk);           // [group][2] max, sum
  float* red = stat + 2 * group;                                 // [parts - 1][kHeadBatch][D] partial sums
  const int64_t kvh = blockIdx.x;
  const int split = blockIdx.y;
  const int64_t s0 = int64_t(split) * chunk;
  const int64_t n = slots.count(kvh);
  const int here = int(n > s0 ? (n - s0 < chunk ? n - s0 : chunk) : 0);

  for (int s = threadIdx.x; s < chunk; s += kThreads) tok[s] = s < here ? slots.token(kvh, s0 + s) : -1;
  __syncthreads();

  const __half* kh = kc + kvh * head_stride;
  const __half* vh = vc + kvh * head_stride;
  const float* qg = q + kvh * group * D;  // the group's query heads, [group][D]

  // Scores: a thread per slot; its K row is read once per head batch.
  for (int s = threadIdx.x; s < chunk; s += kThreads) {
    const int64_t t = tok[s];
    for (int hb = 0; hb < group; hb += kHeadBatch) {
      float acc[kHeadBatch];
#pragma unroll
      for (int j = 0; j < kHeadBatch; ++j) acc[j] = 0.0f;
      if (t >= 0) {
        const __half* kr = kh + t * token_stride;
        if constexpr (kVec) {
          for (int64_t d = 0; d < D; d += 8) {
            const uint4 raw = *reinterpret_cast<const uint4*>(kr + d);
            const __half2* h2 = reinterpret_cast<const __half2*>(&raw);
            float kf[8];
#pragma unroll
            for (int i = 0; i < 4; ++i) {
              const float2 f = __half22float2(h2[i]);
              kf[2 * i] = f.x;
              kf[2 * i + 1] = f.y;
            }
#pragma unroll
            for (int j = 0; j < kHeadBatch; ++j) {
              if (hb + j >= group) break;
              const float* qj = qg + (hb + j) * D + d;  // same address across the warp: a broadcast
#pragma unroll
              for (int i = 0; i < 8; ++i) acc[j] += __ldg(qj + i) * kf[i];
            }
          }
        } else {
          for (int64_t d = 0; d < D; ++d) {
            const float kf = __half2float(kr[d]);
#pragma unroll
            for (int j = 0; j < kHeadBatch; ++j) {
              if (hb + j >= group) break;
              acc[j] += __ldg(qg + (hb + j) * D + d) * kf;
            }
          }
        }
      }
#pragma unroll
      for (int j = 0; j < kHeadBatch; ++j)
        if (hb + j < group) p[(hb + j) * chunk + s] = t < 0 ? -INFINITY : scale * acc[j];
    }
  }
  __syncthreads();

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int h = warp; h < group; h += kThreads / 32) {
    float mx = -INFINITY;
    for (int s = lane; s < chunk; s += 32) mx = fmaxf(mx, p[h * chunk + s]);
    mx = warp_max(mx);
    float sum = 0.0f;
    for (int s = lane; s < chunk; s += 32) {
      const float w = mx == -INFINITY ? 0.0f : __expf(p[h * chunk + s] - mx);
      p[h * chunk + s] = w;
      sum += w;
    }
    sum = warp_sum(sum);
    if (lane == 0) {
      stat[2 * h] = mx;
      stat[2 * h + 1] = sum;
    }
  }
  __syncthreads();

  // Output: a thread per pair of dims (half2 loads of V, read once per head batch); when there
  // are fewer pairs than threads, `parts` threads share a pair, taking every parts-th slot, and
  // add up through shared memory.
  const int pairs = int((D + 1) / 2);
  const int parts = pairs >= kThreads ? 1 : kThreads / pairs;
  // acc[j] += sum over this thread's slots of weight(head hb + j, slot) * V[slot][d, d + 1]
  auto accumulate = [&](int hb, int64_t d, int first, int step, float (&acc)[kHeadBatch][2]) {
#pragma unroll
    for (int j = 0; j < kHeadBatch; ++j) acc[j][0] = acc[j][1] = 0.0f;
    for (int s = first; s < here; s += step) {
      const int64_t t = tok[s];
      if (t < 0) continue;
      const __half* vr = vh + t * token_stride + d;
      float2 v;
      if constexpr (kVec) v = __half22float2(*reinterpret_cast<const __half2*>(vr));
      else v = make_float2(__half2float(vr[0]), d + 1 < D ? __half2float(vr[1]) : 0.0f);
#pragma unroll
      for (int j = 0; j < kHeadBatch; ++j) {
        if (hb + j >= group) break;
        const float w = p[(hb + j) * chunk + s];
        acc[j][0] += w * v.x;
        acc[j][1] += w * v.y;
      }
    }
  };
  auto store = [&](int hb, int64_t d, int j, int e, float v) {
    const int64_t qh = kvh * group + hb + j;
    if (hb + j < group && d + e < D) ws_o[(qh * splits + split) * D + d + e] = v;
  };
  for (int hb = 0; hb < group; hb += kHeadBatch) {
    float acc[kHeadBatch][2];
    if (parts == 1) {
      for (int pr = threadIdx.x; pr < pairs; pr += kThreads) {
        accumulate(hb, 2 * int64_t(pr), 0, 1, acc);
#pragma unroll
        for (int j = 0; j < kHeadBatch; ++j) {
          store(hb, 2 * int64_t(pr), j, 0, acc[j][0]);
          store(hb, 2 * int64_t(pr), j, 1, acc[j][1]);
        }
      }
    } else {
      // Fewer pairs than threads: `parts` threads share a pair, each taking every parts-th slot,
      // and add up through shared memory. Every thread reaches both barriers.
      const int part = threadIdx.x / pairs, pr = threadIdx.x % pairs;
      const int64_t d = 2 * int64_t(pr);
      const bool active = part < parts;
      if (active) accumulate(hb, d, part, parts, acc);
      if (active && part > 0)
#pragma unroll
        for (int j = 0; j < kHeadBatch; ++j) {
          red[((part - 1) * kHeadBatch + j) * 2 * pairs + d] = acc[j][0];
          red[((part - 1) * kHeadBatch + j) * 2 * pairs + d + 1] = acc[j][1];
        }
      __syncthreads();
      if (active && part == 0)
#pragma unroll
        for (int j = 0; j < kHeadBatch; ++j)
          for (int e = 0; e < 2; ++e) {
            float v = acc[j][e];
            for (int other = 1; other < parts; ++other) v += red[((other - 1) * kHeadBatch + j) * 2 * pairs + d + e];
            store(hb, d, j, e, v);
          }
      __syncthreads();
    }
  }
  for (int h = threadIdx.x; h < group; h += kThreads) {
    const int64_t qh = kvh * group + h;
    ws_ml[(qh * splits + split) * 2] = stat[2 * h];
    ws_ml[(qh * splits + split) * 2 + 1] = stat[2 * h + 1];
  }
}

__global__ void decode_merge_kernel(const float* __restrict__ ws_o, const float* __restrict__ ws_ml, int splits,
                                    int64_t D, float* __restrict__ out) {
  const int64_t qh = blockIdx.x;
  float mx = -INFINITY;
  for (int i = 0; i < splits; ++i) mx = fmaxf(mx, ws_ml[(qh * splits + i) * 2]);
  float denom = 0.0f;
  for (int i = 0; i < splits; ++i) {
    const float m = ws_ml[(qh * splits + i) * 2];
    if (m != -INFINITY) denom += __expf(m - mx) * ws_ml[(qh * splits + i) * 2 + 1];
  }
  for (int64_t d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (int i = 0; i < splits; ++i) {
      const float m = ws_ml[(qh * splits + i) * 2];
      if (m != -INFINITY) acc += __expf(m - mx) * ws_o[(qh * splits + i) * D + d];
    }
    out[qh * D + d] = denom > 0.0f ? acc / denom : 0.0f;
  }
}

}  // namespace

void launch_attention_decode(const float* q, int64_t heads, const KvView& kv, const SelectionView& sel,
                             int64_t entries_max, float scale, float* out, cudaStream_t s) {
  if (kv.dtype != DType::F16) throw CudaError("ERR_DTYPE", "CUDA attention needs an f16 KV cache");
  if (kv.kv_heads <= 0 || heads % kv.kv_heads != 0)
    throw CudaError("ERR_SHAPE", "attention: heads must be a positive multiple of kv_heads");
  if (sel.kind == SelectionKind::Ranges) throw CudaError("ERR_ARG", "CUDA attention: range selections not supported yet");
  const int group = int(heads / kv.kv_heads);
  const int32_t page = sel.kind == SelectionKind::Pages ? sel.page_size : 1;
  if (page <= 0) throw CudaError("ERR_ARG", "attention: page_size must be positive");
  const int64_t slots_max = sel.kind == SelectionKind::All ? kv.length : entries_max * page;
  // Chunk of slots per block: shrink with the group so the score buffer stays <= 32 KiB.
  int chunk = 256;
  while (chunk > 32 && int64_t(group) * chunk > 8192) chunk /= 2;
  const int64_t splits64 = std::max<int64_t>(1, (slots_max + chunk - 1) / chunk);
  if (splits64 > 65535) throw CudaError("ERR_SHAPE", "attention: context too long for one launch");
  const int splits = int(splits64);
  const int64_t D = kv.head_dim;
  const int64_t pairs = (kv.head_dim + 1) / 2, parts = pairs >= kThreads ? 1 : kThreads / pairs;
  const size_t smem = size_t(group) * chunk * sizeof(float) + size_t(chunk) * sizeof(int64_t) +
                      size_t(group) * 2 * sizeof(float) + size_t(parts - 1) * kHeadBatch * 2 * pairs * sizeof(float);
  if (smem > 48 * 1024) throw CudaError("ERR_SHAPE", "attention: too many query heads per KV head for one block");
  float* ws = nullptr;
  const size_t ws_floats = size_t(heads) * splits * (D + 2);
  check_cuda(cudaMallocAsync(reinterpret_cast<void**>(&ws), ws_floats * sizeof(float), s), "attention workspace");
  float* ws_o = ws;
  float* ws_ml = ws + size_t(heads) * splits * D;
  const Slots slots{sel.kind == SelectionKind::Indices ? SelectionKind::Pages : sel.kind, sel.offsets, sel.items,
                    page, kv.length};
  const auto* kc = static_cast<const __half*>(kv.k);
  const auto* vc = static_cast<const __half*>(kv.v);
  const bool vec = D % 8 == 0 && kv.token_stride % 8 == 0 && kv.head_stride % 8 == 0 &&
                   reinterpret_cast<uintptr_t>(kc) % 16 == 0 && reinterpret_cast<uintptr_t>(vc) % 16 == 0;
  const dim3 grid(unsigned(kv.kv_heads), unsigned(splits));
  if (vec)
    decode_partial_kernel<true><<<grid, kThreads, smem, s>>>(q, kc, vc, D, kv.head_stride, kv.token_stride, slots,
                                                             group, chunk, scale, ws_o, ws_ml, splits);
  else
    decode_partial_kernel<false><<<grid, kThreads, smem, s>>>(q, kc, vc, D, kv.head_stride, kv.token_stride, slots,
                                                              group, chunk, scale, ws_o, ws_ml, splits);
  check_cuda(cudaGetLastError(), "attention pass 1 launch");
  decode_merge_kernel<<<unsigned(heads), unsigned(std::min<int64_t>(std::max<int64_t>(D, 32), 256)), 0, s>>>(
      ws_o, ws_ml, splits, D, out);
  check_cuda(cudaGetLastError(), "attention pass 2 launch");
  check_cuda(cudaFreeAsync(ws, s), "attention workspace free");
}

}  // namespace sparsenn::cuda
