// Block-sparse kernels, avx2 variant: the generic code compiled with avx2 flags
// (dense blocks need no gathers, so the auto-vectorised loops are the kernel).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "spmm_bsr_generic.inc"
#endif
