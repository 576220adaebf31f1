// Dense Y[M,N] = X[M,K] · Wᵀ: picks the ISA variant once, splits output columns over threads.
#include "gemm_kernels.h"
#include "isa.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

void matmul_dense(const F32View& x, const DenseView& w, const MutF32View& y) {
  static const MatmulDenseRangeFn kernel =
      pick_kernel<MatmulDenseRangeFn>(SPARSENN_X86_KERNEL(avx512::matmul_dense_range),
                                      SPARSENN_X86_KERNEL(avx2::matmul_dense_range), portable::matmul_dense_range);
  parallel_ranges(w.rows, 16, [&](int64_t b, int64_t e) { kernel(x, w, y, b, e); });
}

}  // namespace sparsenn
