// The per-ISA CSR kernels behind matmul_csr (native/cpu/spmm_csr.cc). Each
// computes output columns [n_begin, n_end) for a few rows of X, and returns
// false when it met (and skipped) a column index >= w.cols.
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

// Gather form, for small M (decode): streams each W row once and gathers x at
// its column indices for `mr` (1..8) rows of X at once. x and y point at the
// first of those rows; ldx / ldy are their row strides.
using CsrGatherRowsFn = bool (*)(const CsrView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy,
                                 int64_t n_begin, int64_t n_end);

// Packed form, for larger M (prefill): X rows m0..m0+mb were transposed into
// xt[K][mb] (k-major; mb is 16, 32 or 64, rows past `mrows` zero), so each nonzero
// does mb/16 vector FMAs along M. Writes y rows 0..mrows-1.
using CsrPackedRowsFn = bool (*)(const CsrView& w, const float* xt, int64_t mb, float* y, int64_t ldy, int64_t mrows,
                                 int64_t n_begin, int64_t n_end);

// Packs X rows [m0, m0 + rows) into xt[K][mb] (k-major; rows past `rows` zero) for the
// packed kernels (CSR and BSR), split over the thread pool.
void pack_x_kmajor(const F32View& x, int64_t m0, int64_t rows, int64_t mb, float* xt);

// K-blocked packed form, for prefill (spmm_csr_blocked.inc; AVX2 and AVX-512 only): X packed
// into Mp / panel panels of [K][panel] floats (k-major, rows past M zero, Mp a multiple of the
// panel); writes Y[0..M, n_begin..n_end). Nonzeros go in column blocks of kCsrBlockCols, so the
// panel block they read (64 KB on AVX-512) stays in L2, over row blocks of up to kCsrBlockRows rows.
constexpr int64_t kCsrPanelAvx512 = 32;
constexpr int64_t kCsrPanelAvx2 = 16;
constexpr int64_t kCsrBlockCols = 512;
constexpr int64_t kCsrBlockRows = 256;
using CsrBlockedRowsFn = bool (*)(const CsrView& w, const float* xp, int64_t Mp, float* y, int64_t ldy, int64_t M,
                                  int64_t n_begin, int64_t n_end);
namespace avx2 {
bool csr_blocked_rows(const CsrView&, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
}
namespace avx512 {
bool csr_blocked_rows(const CsrView&, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t);
}

#define SPARSENN_DECLARE_CSR_KERNELS(ns)                                                                  \
  namespace ns {                                                                                          \
  bool csr_gather_rows(const CsrView&, const float*, int64_t, int64_t, float*, int64_t, int64_t, int64_t); \
  bool csr_packed_rows(const CsrView&, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t); \
  }
SPARSENN_DECLARE_CSR_KERNELS(portable)
SPARSENN_DECLARE_CSR_KERNELS(avx2)
SPARSENN_DECLARE_CSR_KERNELS(avx512)
#undef SPARSENN_DECLARE_CSR_KERNELS

}  // namespace sparsenn
