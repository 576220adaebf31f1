// N:M kernels, portable variant: the generic decoder + dot product only.
#define SPARSENN_VARIANT portable
#include "spmm_nm_generic.inc"
