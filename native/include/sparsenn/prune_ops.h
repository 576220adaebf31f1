// Linear algebra and weight updates behind the pruners (lib/prune/). Plain C++,
// no N-API; callers guarantee sizes (the binding checks them).
#pragma once
#include <cstdint>

namespace sparsenn {

// U, the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), for a symmetric positive-definite
// H [k,k] (row-major, f64). Computed without forming H⁻¹: with J the reversal
// permutation, JHJ = L̃L̃ᵀ (ordinary Cholesky) gives H = ŨŨᵀ with Ũ = JL̃J upper, so
// U = Ũ⁻¹ = J L̃⁻¹ J. Returns 0, or i + 1 when the factorisation meets a pivot ≤ 0
// (or non-finite) at step i: H is not positive definite and u is unspecified.
int64_t cholesky_inverse_upper(const double* h, int64_t k, double* u);

// SparseGPT's column-blocked OBS sweep (Frantar & Alistarh 2023), in place on the
// row-major f32 weight w [rows, cols], with u the upper Cholesky factor of H⁻¹ [cols, cols].
// For each block of `block` columns: choose the block's mask (m == 0: the
// prune_counts[b] lowest w²/U_cc² of the whole block; m > 0: in every group of m
// columns of each row (a last partial group of w columns: ⌊(m − n)·w/m⌋), the m − n lowest, chosen from the updated weights when the
// sweep reaches the group), then column by column zero the pruned weight and spread
// its error over the row's later columns of the block through U's row, and finally
// apply the block's accumulated error to all later columns at once.
// mask [rows, cols] receives 1 for kept, 0 for pruned. Ties go to the lower index.
struct SparsegptPlan {
  int32_t n;                    // N of N:M (unused when m == 0)
  int32_t m;                    // M of N:M, or 0 for unstructured
  int64_t block;                // columns per block (a multiple of m when m > 0)
  const uint32_t* prune_counts; // unstructured: weights to prune in each block
};
void sparsegpt_sweep(float* w, int64_t rows, int64_t cols, const float* u, uint8_t* mask, const SparsegptPlan& plan);

}  // namespace sparsenn
