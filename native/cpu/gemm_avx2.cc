// Dense matmul kernel, avx2 variant (auto-vectorised generic code for now).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "gemm_generic.inc"
#endif
