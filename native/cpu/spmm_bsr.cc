// Block-sparse Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once and splits the
// block rows into parts of equal cost (stored blocks plus a per-row overhead).
// Small M runs the per-row block kernels; larger M packs X k-major first.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "isa.h"
#include "sparsenn/ops.h"
#include "spmm_bsr_kernels.h"
#include "spmm_csr_kernels.h"  // pack_x_kmajor
#include "threadpool.h"

namespace sparsenn {

namespace {
// At and above this many X rows, packing X k-major (the prefill form) beats per-row loops.
constexpr int64_t kPackedMinRows = 16;
}  // namespace

bool matmul_bsr(const F32View& x, const BsrView& w, const MutF32View& y) {
  static const BsrRowsFn kernel = pick_kernel<BsrRowsFn>(SPARSENN_X86_KERNEL(avx512::bsr_rows),
                                                         SPARSENN_X86_KERNEL(avx2::bsr_rows), portable::bsr_rows);
  static const BsrPackedRowsFn packed = pick_kernel<BsrPackedRowsFn>(
      SPARSENN_X86_KERNEL(avx512::bsr_packed_rows), SPARSENN_X86_KERNEL(avx2::bsr_packed_rows), portable::bsr_packed_rows);
  const int64_t NB = (w.rows + w.block_rows - 1) / w.block_rows;
  if (x.rows == 0 || NB == 0) return true;
  // A few parts per thread, handed out dynamically, so one preempted thread delays a small part only.
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(int64_t(thread_count()) * 4, NB));
  // Cost of block rows [0, rb): its blocks' elements plus one block's worth per row.
  const int64_t bsize = w.block_rows * w.block_cols;
  const auto cost = [&](int64_t rb) { return (int64_t(w.block_row_ptr[rb]) + rb) * bsize; };
  std::vector<int64_t> bounds(size_t(parts) + 1, NB);
  bounds[0] = 0;
  for (int64_t t = 1, rb = 0; t < parts; ++t) {
    const int64_t target = cost(NB) / parts * t;
    int64_t lo = rb, hi = NB;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (cost(mid) < target) lo = mid + 1; else hi = mid;
    }
    rb = lo;
    bounds[size_t(t)] = rb;
  }
  std::atomic<bool> ok{true};
  if (x.rows < kPackedMinRows) {
    parallel_for(parts, [&](int64_t t) {
      if (!kernel(w, x, y, bounds[size_t(t)], bounds[size_t(t) + 1])) ok = false;
    });
    return ok;
  }
  // Prefill: X rows in blocks of up to 64, each packed k-major (as for CSR).
  std::unique_ptr<float[]> xt(new float[size_t(x.cols) * 64]);
  for (int64_t m0 = 0; m0 < x.rows; m0 += 64) {
    const int64_t rows = std::min<int64_t>(64, x.rows - m0);
    const int64_t mb = rows <= 16 ? 16 : rows <= 32 ? 32 : 64;
    pack_x_kmajor(x, m0, rows, mb, xt.get());
    parallel_for(parts, [&](int64_t t) {
      if (!packed(w, xt.get(), mb, y.data + m0 * y.cols, y.cols, rows, bounds[size_t(t)], bounds[size_t(t) + 1]))
        ok = false;
    });
  }
  return ok;
}

}  // namespace sparsenn
