// Double Sparsity integer label scores, portable variant (auto-vectorised generic loops).
#define SPARSENN_VARIANT portable
#include "label_scores_generic.inc"
