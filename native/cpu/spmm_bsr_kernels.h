// The per-ISA block-sparse kernels behind matmul_bsr (native/cpu/spmm_bsr.cc).
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

// Computes the output columns of block rows [rb_begin, rb_end) for all M rows of
// X; returns false when it met (and skipped) a block column >= ceil(cols / block_cols).
using BsrRowsFn = bool (*)(const BsrView& w, const F32View& x, const MutF32View& y, int64_t rb_begin, int64_t rb_end);

namespace portable { bool bsr_rows(const BsrView&, const F32View&, const MutF32View&, int64_t, int64_t); }
namespace avx2 { bool bsr_rows(const BsrView&, const F32View&, const MutF32View&, int64_t, int64_t); }
namespace avx512 { bool bsr_rows(const BsrView&, const F32View&, const MutF32View&, int64_t, int64_t); }

}  // namespace sparsenn
