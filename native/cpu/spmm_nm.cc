// Y[M,N] = X[M,K] · Wᵀ with W N:M sparse: pads X when K is not a multiple of m,
// picks the ISA kernel once (a dedicated one for 2:4, the generic decoder for the
// other patterns), splits W's rows over threads (every row holds the same number
// of kept values, so equal row ranges are equal work) and, for prefill, blocks
// K, N and M so the X and W tiles a thread works on stay in its L2.
#include <algorithm>
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
