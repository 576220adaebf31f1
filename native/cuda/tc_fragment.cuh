// The warp-level tensor-core loop shared by the dense and the 2:4 matmul (tile_layout.h has
// the fragment layouts of both operands). One block computes a 16-row x (8*NT)-token tile of Yᵀ; its WARPS warps
// split the K tiles between them (split-K inside the block, so decode with one token still has
// enough loads in flight to stream the weight at memory bandwidth) and add up in shared memory.
#pragma once
#include "device_common.cuh"

namespace sparsenn::cuda {

// D += A(16x16, dense f16/bf16) * B(16x8)
template <bool kBf16>
__device__ __forceinline__ void mma_16816(float (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                          uint32_t b0, uint32_t b1) {
  if constexpr (kBf16)
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// D += A(16x32 logical, 2:4 sparse: 16x16 kept values + metadata e) * B(32x8); selector 0.
template <bool kBf16>
__device__ __forceinline__ void mma_sp_16832(float (&d)[4], const uint4& a, const uint32_t (&b)[4], uint32_t e) {
  if constexpr (kBf16)
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
        "{%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
  else
    asm volatile(
        "mma.sp::ordered_metadata.sync.aligned.m16n8k32.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
        "{%4,%5,%6,%7}, {%8,%9,%10,%11}, {%0,%1,%2,%3}, %12, 0x0;\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a.x), "r"(a.y), "r"(a.z), "r"(a.w), "r"(b[0]), "r"(b[1]), "r"(b[2]), "r"(b[3]), "r"(e));
}

// wv: weight tiles as uint4 (sparse: 1 per lane per tile, dense: 2); meta: sparse metadata.
// xb: activations packed in B-fragment order (tile_layout.h), one uint4 per lane per tile.
// A block computes RT*16 weight rows x NT*8 tokens; each warp reuses every B fragment it loads
// for RT row tiles (prefill: fewer loads per MMA) and walks its share of the K tiles U at a
// time, issuing all U tiles' loads before the first MMA (decode: enough bytes in flight to
// stream the weight at memory bandwidth). The WARPS warps split K and add up in shared memory.
template <bool kSparse, bool kBf16, int RT, int NT, int WARPS, int U>
__global__ void __launch_bounds__(WARPS * 32)
    tc_matmul_kernel(const uint4* __restrict__ wv, const uint32_t* __restrict__ meta, int64_t tiles_n,
                     int64_t tiles_k, const uint4* __restrict__ xb, int64_t M, int64_t N, float* __restrict__ y) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int64_t tn0 = int64_t(blockIdx.x) * RT;  // first 16-row weight tile of this block
  const int64_t tm0 = int64_t(blockIdx.y) * NT;  // first 8-token tile of this block
  const int rows_here = int(tiles_n - tn0 < RT ? tiles_n - tn0 : RT);
  float acc[RT][NT][4];
#pragma unroll
  for (int r = 0; r < RT; ++r)
#pragma unroll
    for (int s = 0; s < NT; ++s) acc[r][s][0] = acc[r][s][1] = acc[r][s][2] = acc[r][s][3] = 0.0f;

  for (int64_t tk0 = warp; tk0 < tiles_k; tk0 += int64_t(WARPS) * U) {
    uint4 a0[U][RT], a1[U][RT], b[U][NT];
    uint32_t e[U][RT];
#pragma unroll
    for (int u = 0; u < U; ++u) {
      const int64_t tk = tk0 + int64_t(u) * WARPS;
      if (tk >= tiles_k) break;
#pragma unroll
      for (int r = 0; r < RT; ++r) {
        if (r >= rows_here) break;
        const int64_t tile = (tn0 + r) * tiles_k + tk;
        if constexpr (kSparse) {
          a0[u][r] = __ldg(wv + tile * 32 + lane);
          e[u][r] = __ldg(meta + tile * 16 + 2 * g + (t & 1));
        } else {
          a0[u][r] = __ldg(wv + tile * 64 + lane * 2);
          a1[u][r] = __ldg(wv + tile * 64 + lane * 2 + 1);
        }
      }
      // Decode: lanes whose token is padding (7 of every 8 at M = 1) skip the load, or every
      // block would re-read X from L2, as many bytes as the weight itself.
#pragma unroll
      for (int s = 0; s < NT; ++s) {
        const uint4* p = xb + ((tm0 + s) * tiles_k + tk) * 32 + lane;
        if constexpr (NT <= 2) b[u][s] = (tm0 + s) * 8 + g < M ? __ldg(p) : make_uint4(0, 0, 0, 0);
        else b[u][s] = __ldg(p);
      }
    }
#pragma unroll
    for (int u = 0; u < U; ++u) {
      if (tk0 + int64_t(u) * WARPS >= tiles_k) break;
#pragma unroll
      for (int r = 0; r < RT; ++r) {
        if (r >= rows_here) break;
#pragma unroll
        for (int s = 0; s < NT; ++s) {
          const uint32_t bf[4] = {b[u][s].x, b[u][s].y, b[u][s].z, b[u][s].w};
          if constexpr (kSparse) {
            mma_sp_16832<kBf16>(acc[r][s], a0[u][r], bf, e[u][r]);
          } else {
            mma_16816<kBf16>(acc[r][s], a0[u][r].x, a0[u][r].y, a0[u][r].z, a0[u][r].w, bf[0], bf[1]);
            mma_16816<kBf16>(acc[r][s], a1[u][r].x, a1[u][r].y, a1[u][r].z, a1[u][r].w, bf[2], bf[3]);
          }
        }
      }
    }
  }

  if constexpr (WARPS > 1) {
    __shared__ float partial[WARPS - 1][RT * NT * 4][32];
    if (warp > 0)
#pragma unroll
      for (int r = 0; r < RT; ++r)
#pragma unroll
        for (int s = 0; s < NT; ++s)
#pragma unroll
          for (int i = 0; i < 4; ++i) partial[warp - 1][(r * NT + s) * 4 + i][lane] = acc[r][s][i];
    __syncthreads();
    if (warp > 0) return;
#pragma unroll
    for (int w = 0; w < WARPS - 1; ++w)
#pragma unroll
      for (int r = 0; r < RT; ++r)
#pragma unroll
        for (int s = 0; s < NT; ++s)
#pragma unroll
          for (int i = 0; i < 4; ++i) acc[r][s][i] += partial[w][(r * NT + s) * 4 + i][lane];
  }
  // Accumulator layout: element i of lane (g, t) is row g + 8*(i >> 1), token 2t + (i & 1).
#pragma unroll
  for (int r = 0; r < RT; ++r)
#pragma unroll
    for (int s = 0; s < NT; ++s)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t row = (tn0 + r) * 16 + g + 8 * (i >> 1);
        const int64_t tok = (tm0 + s) * 8 + 2 * t + (i & 1);
        if (row < N && tok < M) y[tok * N + row] = acc[r][s][i];
      }
}

// Tokens per block for a batch of M: decode (M <= 16) uses narrow tiles and 8-way split-K.
inline int tc_tokens_per_block(int64_t M) { return M <= 8 ? 8 : M <= 16 ? 16 : M <= 32 ? 32 : 64; }

template <bool kSparse>
void launch_tc(const DeviceWeight& w, const void* x16, int64_t M, float* y, cudaStream_t s) {
  if (M == 0 || w.rows == 0) return;
  const int tpb = tc_tokens_per_block(M);
  // Prefill (64-token tiles) covers 2 weight tiles per block so each B fragment serves 2 MMAs.
  const int rt = tpb == 64 ? 2 : 1;
  const dim3 grid(unsigned((w.geo.tiles_n + rt - 1) / rt), unsigned((M + tpb - 1) / tpb));
  if (grid.y > 65535) throw CudaError("ERR_SHAPE", "matmul: batch too large for one launch");
  const auto* wv = static_cast<const uint4*>(w.values);
  const auto* meta = static_cast<const uint32_t*>(w.meta);
  const auto* xb = static_cast<const uint4*>(x16);
  const bool bf16 = w.dtype == DType::BF16;
#define SPARSENN_TC_LAUNCH(BF, RT, NT, WARPS, U)                                                          \
  tc_matmul_kernel<kSparse, BF, RT, NT, WARPS, U>                                                          \
      <<<grid, WARPS * 32, 0, s>>>(wv, meta, w.geo.tiles_n, w.geo.tiles_k, xb, M, w.rows, y)
  if (bf16) {
    if (tpb == 8) SPARSENN_TC_LAUNCH(true, 1, 1, 8, 4);
    else if (tpb == 16) SPARSENN_TC_LAUNCH(true, 1, 2, 8, 4);
    else if (tpb == 32) SPARSENN_TC_LAUNCH(true, 1, 4, 4, 2);
    else SPARSENN_TC_LAUNCH(true, 2, 8, 4, 1);
  } else {
    if (tpb == 8) SPARSENN_TC_LAUNCH(false, 1, 1, 8, 4);
    else if (tpb == 16) SPARSENN_TC_LAUNCH(false, 1, 2, 8, 4);
    else if (tpb == 32) SPARSENN_TC_LAUNCH(false, 1, 4, 4, 2);
    else SPARSENN_TC_LAUNCH(false, 2, 8, 4, 1);
  }
#undef SPARSENN_TC_LAUNCH
  check_cuda(cudaGetLastError(), kSparse ? "2:4 matmul launch" : "dense matmul launch");
}

}  // namespace sparsenn::cuda
