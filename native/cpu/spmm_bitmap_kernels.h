// The per-ISA bitmap kernels behind matmul_bitmap (native/cpu/spmm_bitmap.cc).
#pragma once
#include <cstdint>

#include "sparsenn/bitmap.h"

namespace sparsenn {

// Most X rows one kernel call handles: each expanded weight vector is reused for all of them.
constexpr int64_t kBitmapMaxXRows = 8;

// Computes y[m, n] for `mr` (1..kBitmapMaxXRows) rows of X and output columns
// [n_begin, n_end). x and y point at the first of those rows; ldx / ldy are their
// row strides. Returns false when it met (and skipped) a row whose masks do not
// match its offsets.
using BitmapRowsFn = bool (*)(const BitmapView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy,
                              int64_t n_begin, int64_t n_end);

#define SPARSENN_DECLARE_BITMAP_KERNELS(ns)                                                             \
  namespace ns {                                                                                        \
  bool bitmap_rows(const BitmapView&, const float*, int64_t, int64_t, float*, int64_t, int64_t, int64_t); \
  }
SPARSENN_DECLARE_BITMAP_KERNELS(portable)
SPARSENN_DECLARE_BITMAP_KERNELS(avx2)
SPARSENN_DECLARE_BITMAP_KERNELS(avx512)
#undef SPARSENN_DECLARE_BITMAP_KERNELS

}  // namespace sparsenn
