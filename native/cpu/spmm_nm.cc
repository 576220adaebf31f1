// Y[M,N] = X[M,K] · Wᵀ with W N:M sparse: pads X when K is not a multiple of m,
// picks the ISA kernel once (a dedicated one for 2:4, the generic decoder for the
// other patterns), splits W's rows over threads (every row holds the same number
// of kept values, so equal row ranges are equal work) and, for prefill, blocks
// K, N and M so the X and W tiles a thread works on stay in its L2.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "isa.h"
#include "sparsenn/ops.h"
#include "spmm_nm_kernels.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

constexpr int64_t kWordsPerBlock = 64;  // 2:4: 2048 columns of X per k-block
constexpr int64_t kRowsPerBlock = 64;   // W rows per n-block (~270 KB of f32 values in L2)
constexpr int64_t kXRowsPerBlock = 16;  // X rows per m-block (~128 KB in L2)
constexpr int64_t kPrefillMinRows = 64;  // measured: below this the permute kernel is faster
constexpr int64_t kPrefillRowsPerTask = 96;
// 2:4 prefill (spmm_nm_prefill.inc): from this many X rows on it beats the permute kernel.
constexpr int64_t kPrefill24MinRows = 32;
// W rows per task: the [rows][M] accumulator tile (128 KB at M = 256) stays in L2.
constexpr int64_t kPrefill24RowsPerTask = 128;

// X [M, K] packed into k-major panels of P rows, zero past M and K (up to Kp columns):
// xp[mt][k][i] = X[mt*P + i, k].
// 64-byte aligned, so every 16-float load of a panel row is one cache line.
struct PackedX {
  std::vector<float> storage;
  float* data;
};

PackedX pack_x_panels(const F32View& x, int64_t Kp, int64_t P) {
  const int64_t M = x.rows, K = x.cols, panels = (M + P - 1) / P;
  PackedX p;
  p.storage.assign(size_t(panels * Kp * P + 16), 0.f);
  p.data = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p.storage.data()) + 63) & ~uintptr_t(63));
  float* xp = p.data;
  // Tasks of (panel, 256 columns), so a few panels still spread over every thread.
  constexpr int64_t kCols = 256;
  const int64_t col_blocks = (K + kCols - 1) / kCols;
  parallel_for(panels * col_blocks, [&](int64_t task) {
    const int64_t mt = task / col_blocks, c0 = task % col_blocks * kCols, c1 = std::min(K, c0 + kCols);
    const int64_t rows = std::min<int64_t>(P, M - mt * P);
    float* dst = xp + mt * Kp * P;
    // k-blocks of 32: the 32 destination rows (<= 8 KB) stay in L1 while every source row fills them.
    for (int64_t k0 = c0; k0 < c1; k0 += 32) {
      const int64_t k1 = std::min<int64_t>(c1, k0 + 32);
      for (int64_t i = 0; i < rows; ++i) {
        const float* src = x.data + (mt * P + i) * K;
        for (int64_t k = k0; k < k1; ++k) dst[k * P + i] = src[k];
      }
    }
  });
  return p;
}

void run24(Nm24BlockFn kernel, const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys) {
  const int64_t words = w.meta_words;
  parallel_ranges(w.rows, 16, [&](int64_t nb, int64_t ne) {
    if (M <= 4) {  // decode: one pass over W, which is the whole cost
      kernel(x, M, xs, w, y, ys, nb, ne, 0, words, false);
      return;
    }
    for (int64_t j0 = 0; j0 < words; j0 += kWordsPerBlock) {
      const int64_t j1 = std::min(words, j0 + kWordsPerBlock);
      for (int64_t n0 = nb; n0 < ne; n0 += kRowsPerBlock) {
        const int64_t n1 = std::min(ne, n0 + kRowsPerBlock);
        for (int64_t m0 = 0; m0 < M; m0 += kXRowsPerBlock) {
          const int64_t mm = std::min(M - m0, kXRowsPerBlock);
          kernel(x + m0 * xs, mm, xs, w, y + m0 * ys, ys, n0, n1, j0, j1, j0 > 0);
        }
      }
    }
  });
}

}  // namespace

void matmul_nm(const F32View& x, const NmView& w, const MutF32View& y) {
  const int64_t M = x.rows, K = x.cols, N = w.rows;
  if (M == 0 || N == 0) return;
  if (w.n == 2 && w.m == 4 && M >= kPrefill24MinRows) {
    static const NmPrefillFn prefill24 = pick_kernel<NmPrefillFn>(SPARSENN_X86_KERNEL(avx512::nm24_prefill_block),
                                                                  SPARSENN_X86_KERNEL(avx2::nm24_prefill_block), nullptr);
    if (prefill24) {
      const int64_t P = prefill24 == SPARSENN_X86_KERNEL(avx512::nm24_prefill_block) ? kNm24PanelAvx512 : kNm24PanelAvx2;
      const int64_t Kx = w.meta_words * 32, Mp = (M + P - 1) / P * P;
      const PackedX xp = pack_x_panels(x, Kx, P);
      const int64_t tasks = (N + kPrefill24RowsPerTask - 1) / kPrefill24RowsPerTask;
      parallel_for(tasks, [&](int64_t t) {
        const int64_t n0 = t * kPrefill24RowsPerTask;
        prefill24(xp.data, Mp, Kx, w, y.data, M, y.cols, n0, std::min(N, n0 + kPrefill24RowsPerTask));
      });
      return;
    }
  }
  static const NmPrefillFn prefill = pick_kernel<NmPrefillFn>(SPARSENN_X86_KERNEL(avx512::nm_prefill_block), nullptr, nullptr);
  if (prefill && M >= kPrefillMinRows) {
    const int64_t Kp = w.groups * w.m, Mp = (M + kNmPanelRows - 1) / kNmPanelRows * kNmPanelRows;
    const PackedX xp = pack_x_panels(x, Kp, kNmPanelRows);
    const int64_t tasks = (N + kPrefillRowsPerTask - 1) / kPrefillRowsPerTask;
    parallel_for(tasks, [&](int64_t t) {
      const int64_t n0 = t * kPrefillRowsPerTask;
      prefill(xp.data, Mp, Kp, w, y.data, M, y.cols, n0, std::min(N, n0 + kPrefillRowsPerTask));
    });
    return;
  }
  // Kernels read X up to groups*m columns; pad with zeros when K is not a multiple of m.
  const int64_t width = w.groups * w.m;
  const float* xp = x.data;
  int64_t xs = K;
  std::vector<float> padded;
  if (width != K) {
    xs = width;
    padded.assign(size_t(M * xs), 0.f);
    for (int64_t m = 0; m < M; ++m) std::memcpy(&padded[size_t(m * xs)], x.data + m * K, size_t(K) * sizeof(float));
    xp = padded.data();
  }
  if (w.n == 2 && w.m == 4) {
    static const Nm24BlockFn kernel24 =
        pick_kernel<Nm24BlockFn>(SPARSENN_X86_KERNEL(avx512::nm24_block), SPARSENN_X86_KERNEL(avx2::nm24_block), nullptr);
    if (kernel24) return run24(kernel24, xp, M, xs, w, y.data, y.cols);
  }
  static const NmRangeFn generic = pick_kernel<NmRangeFn>(SPARSENN_X86_KERNEL(avx512::nm_generic_range),
                                                          SPARSENN_X86_KERNEL(avx2::nm_generic_range),
                                                          portable::nm_generic_range);
  parallel_ranges(N, 16, [&](int64_t b, int64_t e) { generic(xp, M, xs, w, y.data, y.cols, b, e); });
}

}  // namespace sparsenn
