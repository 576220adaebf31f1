// Top-k passes, portable variant (the generic loops).
#define SPARSENN_VARIANT portable
#include "select_top_k_generic.inc"
