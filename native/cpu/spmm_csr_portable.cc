// CSR kernels, portable variant (plain C++; every platform).
#define SPARSENN_VARIANT portable
#include "spmm_csr_generic.inc"
