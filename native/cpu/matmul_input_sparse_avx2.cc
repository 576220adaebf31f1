// Sparse-activation matmul, AVX2 + FMA + F16C variant (auto-vectorised).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "matmul_input_sparse_generic.inc"
#endif
