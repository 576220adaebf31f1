// Block-sparse kernels, portable variant (plain C++; every platform).
#define SPARSENN_VARIANT portable
#include "spmm_bsr_generic.inc"
