// Bitmap Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once and splits W's rows
// into parts of equal cost, a few parts per thread. A row costs its values plus
// one unit per 16-column group (every group is expanded and multiplied, kept
// weights or not), so parts are balanced by nonzeros, not row counts.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "isa.h"
#include "sparsenn/bitmap.h"
#include "spmm_bitmap_kernels.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

// Rows per cache block when X has more rows than one kernel call takes: the block's
// masks and values stay in L2 while each chunk of X rows passes over them.
constexpr int64_t kRowBlock = 64;
constexpr int64_t kPartsPerThread = 4;

std::vector<int64_t> balanced_rows(const BitmapView& w, int64_t parts) {
  const int64_t N = w.rows;
  const auto cost = [&](int64_t n) { return int64_t(w.row_ptr[n]) + w.groups * n; };
  const int64_t total = cost(N);
  std::vector<int64_t> bounds(size_t(parts) + 1, N);
  bounds[0] = 0;
  int64_t n = 0;
  for (int64_t t = 1; t < parts; ++t) {
    const int64_t target = total * t / parts;
    int64_t lo = n, hi = N;  // cost() is monotone (row_ptr is checked monotone by the binding)
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (cost(mid) < target) lo = mid + 1; else hi = mid;
    }
    n = lo;
    bounds[size_t(t)] = n;
  }
  return bounds;
}

}  // namespace

bool matmul_bitmap(const F32View& x, const BitmapView& w, const MutF32View& y) {
  static const BitmapRowsFn rows_fn = pick_kernel<BitmapRowsFn>(
      SPARSENN_X86_KERNEL(avx512::bitmap_rows), SPARSENN_X86_KERNEL(avx2::bitmap_rows), portable::bitmap_rows);
  const int64_t M = x.rows, N = w.rows;
  if (M == 0 || N == 0) return true;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(int64_t(thread_count()) * kPartsPerThread, N));
  const std::vector<int64_t> bounds = balanced_rows(w, parts);
  std::atomic<bool> ok{true};
  parallel_for(parts, [&](int64_t t) {
    bool part_ok = true;
    for (int64_t n0 = bounds[size_t(t)]; n0 < bounds[size_t(t) + 1]; n0 += kRowBlock) {
      const int64_t n1 = std::min(bounds[size_t(t) + 1], n0 + kRowBlock);
      for (int64_t m0 = 0; m0 < M; m0 += kBitmapMaxXRows) {
        const int64_t mr = std::min(kBitmapMaxXRows, M - m0);
        part_ok &= rows_fn(w, x.data + m0 * x.cols, x.cols, mr, y.data + m0 * y.cols, y.cols, n0, n1);
      }
    }
    if (!part_ok) ok = false;
  });
  return ok;
}

}  // namespace sparsenn
