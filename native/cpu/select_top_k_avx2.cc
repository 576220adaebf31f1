// Top-k passes, AVX2 variant: the generic loops compiled with AVX2 flags.
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "select_top_k_generic.inc"
#endif
