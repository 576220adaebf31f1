// Dense matmul kernel, avx512 variant (auto-vectorised generic code for now).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx512
#include "gemm_generic.inc"
#endif
