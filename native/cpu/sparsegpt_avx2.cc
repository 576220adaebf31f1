// Pruning linear algebra, avx2 variant (the generic code compiled with avx2 flags).
#include "isa.h"
#if SPARSENN_X86
#define SPARSENN_VARIANT avx2
#include "sparsegpt_generic.inc"
#endif
