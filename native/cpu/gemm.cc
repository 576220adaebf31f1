// Dense Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once, chooses the decode (GEMV) or
// prefill (blocked GEMM) path by M, and splits output columns over the thread pool.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "gemm_kernels.h"
#include "isa.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

// X is processed in chunks of at most this many rows, so a packed k-slice of a chunk
// (rows x 512 floats) stays in L2 while every W row group reuses it.
constexpr int64_t kGemmChunkRows = 256;

// A float buffer aligned to a cache line (the packed X panels and the per-task scratch).
class AlignedFloats {
 public:
  explicit AlignedFloats(int64_t n) : raw_(new float[size_t(n) + 16]) {
    const uintptr_t p = reinterpret_cast<uintptr_t>(raw_.get());
    data_ = reinterpret_cast<float*>((p + 63) & ~uintptr_t(63));
  }
  float* data() const { return data_; }

 private:
  std::unique_ptr<float[]> raw_;
  float* data_;
};

const DenseKernels& kernels() {
  static const DenseKernels* k = pick_kernel<const DenseKernels*>(
      SPARSENN_X86_KERNEL(&avx512::kDenseKernels), SPARSENN_X86_KERNEL(&avx2::kDenseKernels),
      &portable::kDenseKernels);
  return *k;
}

void gemm_chunk(const DenseKernels& k, const F32View& x, const DenseView& w, const MutF32View& y) {
  const int64_t M = x.rows, K = x.cols;
  const int64_t width = k.panel_width(M);
  const int64_t panels = (M + width - 1) / width;
  AlignedFloats xp(panels * K * width);
  parallel_for(panels, [&](int64_t p) { k.pack_x_panel(x, p * width, width, xp.data() + p * K * width); });
  const int64_t scratch = k.gemm_scratch_floats(M, width);
  parallel_ranges(w.rows, k.gemm_block_rows(width), [&](int64_t b, int64_t e) {
    AlignedFloats buf(scratch);
    k.gemm_range(xp.data(), width, x, w, y, b, e, buf.data());
  });
}

}  // namespace

void matmul_dense(const F32View& x, const DenseView& w, const MutF32View& y) {
  const DenseKernels& k = kernels();
  const int64_t M = x.rows, N = w.rows, K = w.cols;
  if (M == 0 || N == 0) return;
  for (int64_t m0 = 0; m0 < M; m0 += kGemmChunkRows) {
    const int64_t mc = std::min(kGemmChunkRows, M - m0);
    const F32View xs{x.data + m0 * K, mc, K};
    const MutF32View ys{y.data + m0 * N, mc, N};
    if (mc <= k.gemv_max_rows || K == 0 || !k.gemm_range) {
      // Small M (decode, or the tail of a big M): W streamed once through the GEMV tile.
      parallel_ranges(N, 16, [&](int64_t b, int64_t e) { k.gemv_range(xs, w, ys, b, e); });
    } else {
      gemm_chunk(k, xs, w, ys);
    }
  }
}

}  // namespace sparsenn
