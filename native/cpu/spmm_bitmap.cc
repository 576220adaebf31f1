// Bitmap Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once and splits W's rows
// into parts of equal cost, a few parts per thread. A row costs its values plus
// one unit per 16-column group (every group is expanded and multiplied, kept
// weights or not), so parts are balanced by nonzeros, not row counts.
//
// Prefill (M >= kCsrMinRows): the expand kernels cost the same per 16 columns at
// any sparsity, so many rows of X would pay for every zero. The bitmap's row offsets
// and values are exactly CSR's (same order), so the masks are decoded into column
// indices once (a checked pass, O(nnz + N·K/16)) and the CSR kernel, whose packed
// form does one broadcast-FMA per kept weight, runs on that view.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <vector>

#include "isa.h"
#include "sparsenn/bitmap.h"
#include "sparsenn/ops.h"
#include "spmm_bitmap_kernels.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

// Rows per cache block when X has more rows than one kernel call takes: the block's
// masks and values stay in L2 while each chunk of X rows passes over them.
constexpr int64_t kRowBlock = 64;
constexpr int64_t kPartsPerThread = 4;
// From this many rows of X on, decode to CSR indices and run the CSR kernel.
constexpr int64_t kCsrMinRows = 16;

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

// Writes row n's column indices (IT = uint16_t when K <= 65536) at col + row_ptr[n]; false
// when its masks keep a different number of values than its offsets hold, or a column >= K.
template <typename IT>
bool decode_row(const BitmapView& w, int64_t n, IT* col) {
  const uint16_t* masks = w.masks + n * w.groups;
  int64_t j = w.row_ptr[n];
  const int64_t end = w.row_ptr[n + 1];
  for (int64_t g = 0; g < w.groups; ++g) {
    uint32_t mask = masks[g];
    while (mask != 0) {
      const int64_t k = g * kBitmapGroup + __builtin_ctz(mask);
      mask &= mask - 1;
      if (j >= end || k >= w.cols) return false;
      col[j++] = IT(k);
    }
  }
  return j == end;
}

template <typename IT>
bool matmul_via_csr(const F32View& x, const BitmapView& w, const MutF32View& y, const std::vector<int64_t>& bounds) {
  std::vector<IT> col(size_t(w.nnz));
  std::atomic<bool> ok{true};
  parallel_for(int64_t(bounds.size()) - 1, [&](int64_t t) {
    for (int64_t n = bounds[size_t(t)]; n < bounds[size_t(t) + 1]; ++n)
      if (!decode_row<IT>(w, n, col.data())) { ok = false; return; }
  });
  if (!ok) return false;
  const CsrView csr{w.row_ptr, col.data(), sizeof(IT) == 2 ? 16 : 32, w.values, w.dtype, w.rows, w.cols, w.nnz};
  return matmul_csr(x, csr, y);
}

}  // namespace

bool matmul_bitmap(const F32View& x, const BitmapView& w, const MutF32View& y) {
  static const BitmapRowsFn rows_fn = pick_kernel<BitmapRowsFn>(
      SPARSENN_X86_KERNEL(avx512::bitmap_rows), SPARSENN_X86_KERNEL(avx2::bitmap_rows), portable::bitmap_rows);
  const int64_t M = x.rows, N = w.rows;
  if (M == 0 || N == 0) return true;
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(int64_t(thread_count()) * kPartsPerThread, N));
  const std::vector<int64_t> bounds = balanced_rows(w, parts);
  if (M >= kCsrMinRows)
    return w.cols <= 65536 ? matmul_via_csr<uint16_t>(x, w, y, bounds) : matmul_via_csr<uint32_t>(x, w, y, bounds);
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
