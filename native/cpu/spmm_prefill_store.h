// Shared by the outer-product prefill kernels (spmm_nm_prefill.inc, spmm_csr_blocked.inc): they
// accumulate a W row's outputs for all X rows contiguously, yt[r][m], while Y is [M][N]; and a
// per-thread scratch buffer for those tiles.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace sparsenn {

// Y[m][n0 + r] = yt[r * ldt + m] for r < rows, m < M. Copying element by element along m wrote
// each float to a different line of Y, N floats apart; with N a multiple of 1024 those lines all
// fall in one L1 set, so every store missed (75% of a CSR prefill's time at N = 8192, K = 512).
// Here 16 W rows at a time are first gathered into stage[m][16] (contiguous, in L1), then every
// Y line gets one 64-byte copy.
inline void store_transposed(const float* yt, int64_t ldt, int64_t rows, int64_t M, float* y, int64_t ys,
                             int64_t n0) {
  constexpr int64_t kChunk = 16;
  thread_local std::vector<float> stage;
  if (stage.size() < size_t(M * kChunk)) stage.resize(size_t(M * kChunk));
  for (int64_t r0 = 0; r0 < rows; r0 += kChunk) {
    const int64_t cnt = std::min(kChunk, rows - r0);
    for (int64_t r = 0; r < cnt; ++r) {
      const float* src = yt + (r0 + r) * ldt;
      for (int64_t m = 0; m < M; ++m) stage[size_t(m * kChunk + r)] = src[m];
    }
    for (int64_t m = 0; m < M; ++m)
      std::memcpy(y + m * ys + n0 + r0, &stage[size_t(m * kChunk)], size_t(cnt) * sizeof(float));
  }
}

// A per-thread f32 scratch of at least `floats` (+ 64-byte alignment), zero-filled when asked;
// reused across calls so a task's tiles do not cost fresh pages (page faults) every call.
inline float* thread_scratch(size_t floats, bool zero) {
  thread_local std::vector<float> buf;
  if (buf.size() < floats + 16) buf.resize(floats + 16);
  float* p = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63));
  if (zero) std::memset(p, 0, floats * sizeof(float));
  return p;
}

}  // namespace sparsenn
