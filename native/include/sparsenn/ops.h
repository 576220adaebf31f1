// The kernel API: one function per op. Callers guarantee shapes agree
// (the binding checks them); kernels run on the shared thread pool.
#pragma once
#include "sparsenn/views.h"

namespace sparsenn {

// Y[M,N] = X[M,K] · Wᵀ with W stored [N,K] (PyTorch Linear convention).
void matmul_dense(const F32View& x, const DenseView& w, const MutF32View& y);

}  // namespace sparsenn
