// Pruning linear algebra, portable variant (auto-vectorised generic code).
#define SPARSENN_VARIANT portable
#include "sparsegpt_generic.inc"
