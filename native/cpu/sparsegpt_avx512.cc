// Pruning linear algebra, avx512 variant (the generic code compiled with avx512 flags).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx512
#include "sparsegpt_generic.inc"
#endif
