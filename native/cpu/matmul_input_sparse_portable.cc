// Sparse-activation matmul, portable variant.
#define SPARSENN_VARIANT portable
#include "matmul_input_sparse_generic.inc"
