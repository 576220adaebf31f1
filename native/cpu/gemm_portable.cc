// Dense matmul kernel, portable variant (any CPU, any compiler): the auto-vectorised
// generic loop serves every M; there is no blocked GEMM path.
#include "gemm_kernels.h"

#define SPARSENN_VARIANT portable
#include "gemm_generic.inc"

namespace sparsenn {
namespace portable {

const DenseKernels kDenseKernels = {matmul_dense_range, nullptr, nullptr, nullptr, nullptr, nullptr, 0};

}  // namespace portable
}  // namespace sparsenn
