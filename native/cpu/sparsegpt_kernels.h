// The per-ISA kernels behind cholesky_inverse_upper and sparsegpt_sweep
// (native/cpu/sparsegpt.cc); their code is native/cpu/sparsegpt_generic.inc.
#pragma once
#include <cstdint>

#include "sparsenn/prune_ops.h"

namespace sparsenn {

#define SPARSENN_DECLARE_PRUNE_KERNELS(ns)                                                        \
  namespace ns {                                                                                  \
  int64_t cholesky_lower(double* a, int64_t k);                                                   \
  void tri_inverse_lower(const double* l, double* x, int64_t k);                                  \
  void sparsegpt_rows(float* w, int64_t cols, const float* u, uint8_t* mask, float* err,          \
                      int64_t r_begin, int64_t r_end, int64_t i1, int64_t i2, const SparsegptPlan& plan); \
  }
SPARSENN_DECLARE_PRUNE_KERNELS(portable)
SPARSENN_DECLARE_PRUNE_KERNELS(avx2)
SPARSENN_DECLARE_PRUNE_KERNELS(avx512)
#undef SPARSENN_DECLARE_PRUNE_KERNELS

using CholeskyLowerFn = int64_t (*)(double*, int64_t);
using TriInverseLowerFn = void (*)(const double*, double*, int64_t);
using SparsegptRowsFn = void (*)(float*, int64_t, const float*, uint8_t*, float*, int64_t, int64_t, int64_t, int64_t,
                                 const SparsegptPlan&);

}  // namespace sparsenn
