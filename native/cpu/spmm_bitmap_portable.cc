// Bitmap kernels, portable variant (plain C++; every platform).
#define SPARSENN_VARIANT portable
#include "spmm_bitmap_generic.inc"
