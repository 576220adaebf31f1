// The per-ISA kernels behind matmul_input_sparse (native/cpu/matmul_input_sparse.cc).
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

// y[c0:c1) = Σ_j vals[j] · Wt[rows[j], c0:c1): the rows of Wt [K,N] selected by an
// input row's nonzeros, each streamed contiguously over the column range.
using InputSparseRangeFn = void (*)(const int32_t* rows, const float* vals, int64_t nnz, const DenseView& wt,
                                    float* y, int64_t c0, int64_t c1);

namespace portable {
void input_sparse_range(const int32_t*, const float*, int64_t, const DenseView&, float*, int64_t, int64_t);
}
namespace avx2 {
void input_sparse_range(const int32_t*, const float*, int64_t, const DenseView&, float*, int64_t, int64_t);
}
namespace avx512 {
void input_sparse_range(const int32_t*, const float*, int64_t, const DenseView&, float*, int64_t, int64_t);
}

}  // namespace sparsenn
