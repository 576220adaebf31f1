// Fused selection tile scores, portable variant (auto-vectorised generic loops).
#define SPARSENN_VARIANT portable
#include "attention_select_generic.inc"
