// Dense matmul kernel, portable variant (auto-vectorised generic code for now).

#define SPARSENN_VARIANT portable
#include "gemm_generic.inc"

