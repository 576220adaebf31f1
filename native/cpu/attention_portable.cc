// Attention inner block, portable variant (auto-vectorised generic code, exact scalar f16 widening).
#define SPARSENN_VARIANT portable
#include "attention_generic.inc"
