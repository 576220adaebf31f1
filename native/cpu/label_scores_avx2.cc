// Double Sparsity integer label scores, AVX2 variant: the generic loops compiled with AVX2 + FMA flags.
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "label_scores_generic.inc"
#endif
