// CSR kernels, AVX2 variant: the generic code compiled with AVX2/FMA flags (the
// packed prefill form auto-vectorises along M).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "spmm_csr_generic.inc"
#endif
