// Sparse-activation matmul, AVX-512 variant (auto-vectorised at 512 bits).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx512
#include "matmul_input_sparse_generic.inc"
#endif
