// The per-ISA dense matmul kernels behind matmul_dense (native/cpu/gemm.cc).
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

using MatmulDenseRangeFn = void (*)(const F32View& x, const DenseView& w, const MutF32View& y,
                                    int64_t n_begin, int64_t n_end);

namespace portable { void matmul_dense_range(const F32View&, const DenseView&, const MutF32View&, int64_t, int64_t); }
namespace avx2 { void matmul_dense_range(const F32View&, const DenseView&, const MutF32View&, int64_t, int64_t); }
namespace avx512 { void matmul_dense_range(const F32View&, const DenseView&, const MutF32View&, int64_t, int64_t); }

}  // namespace sparsenn
