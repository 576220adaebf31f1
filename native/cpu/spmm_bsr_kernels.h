// The per-ISA block-sparse kernels behind matmul_bsr (native/cpu/spmm_bsr.cc).
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

// Computes the output columns of block rows [rb_begin, rb_end) for all M rows of
// X; returns false when it met (and skipped) a block column >= ceil(cols / block_cols).
using BsrRowsFn = bool (*)(const BsrView& w, const F32View& x, const MutF32View& y, int64_t rb_begin, int64_t rb_end);

// Packed form for larger M (prefill), as for CSR: X rows m0..m0+mb were transposed into
// xt[K][mb] (mb 16, 32 or 64), so each stored weight does mb/16 vector FMAs along M.
// y points at row m0; writes rows 0..mrows-1.
using BsrPackedRowsFn = bool (*)(const BsrView& w, const float* xt, int64_t mb, float* y, int64_t ldy, int64_t mrows,
                                 int64_t rb_begin, int64_t rb_end);

#define SPARSENN_DECLARE_BSR_KERNELS(ns)                                                                  \
  namespace ns {                                                                                          \
  bool bsr_rows(const BsrView&, const F32View&, const MutF32View&, int64_t, int64_t);                     \
  bool bsr_packed_rows(const BsrView&, const float*, int64_t, float*, int64_t, int64_t, int64_t, int64_t); \
  }
SPARSENN_DECLARE_BSR_KERNELS(portable)
SPARSENN_DECLARE_BSR_KERNELS(avx2)
SPARSENN_DECLARE_BSR_KERNELS(avx512)
#undef SPARSENN_DECLARE_BSR_KERNELS

}  // namespace sparsenn
