// Block-sparse kernels, avx512 variant: the generic code compiled with avx512 flags
// (dense blocks need no gathers, so the auto-vectorised loops are the kernel).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx512
#include "spmm_bsr_generic.inc"
#endif
