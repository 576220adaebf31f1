// Fused selection tile scores, AVX2 variant: the generic loops compiled with AVX2 + FMA flags.
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "attention_select_generic.inc"
#endif
