// cholesky_inverse_upper and sparsegpt_sweep: pick the ISA variant once and
// organise the work (reversal, block loop, mask selection, row tiles over threads).
#include <algorithm>
#include <utility>
#include <vector>

#include "isa.h"
#include "sparsegpt_kernels.h"
#include "sparsenn/prune_ops.h"
#include "threadpool.h"

namespace sparsenn {

namespace {

struct PruneKernels {
  CholeskyLowerFn cholesky_lower;
  TriInverseLowerFn tri_inverse_lower;
  SparsegptRowsFn sparsegpt_rows;
};

const PruneKernels& kernels() {
  static const PruneKernels k{
      // The AVX2 Cholesky runs on AVX-512 machines too: measured (thread CPU time, k = 1024 and 2048) on the
      // AMD EPYC dev box, its 4x(2 ymm) update tile beat every 512-bit tile tried (8.2 vs 6.5 GFLOP/s per core).
      pick_kernel<CholeskyLowerFn>(nullptr, SPARSENN_X86_KERNEL(avx2::cholesky_lower), portable::cholesky_lower),
      pick_kernel<TriInverseLowerFn>(SPARSENN_X86_KERNEL(avx512::tri_inverse_lower),
                                     SPARSENN_X86_KERNEL(avx2::tri_inverse_lower), portable::tri_inverse_lower),
      pick_kernel<SparsegptRowsFn>(SPARSENN_X86_KERNEL(avx512::sparsegpt_rows), SPARSENN_X86_KERNEL(avx2::sparsegpt_rows),
                                   portable::sparsegpt_rows),
  };
  return k;
}

}  // namespace

int64_t cholesky_inverse_upper(const double* h, int64_t k, double* u) {
  const PruneKernels& kn = kernels();
  // JHJ: H with rows and columns reversed.
  std::vector<double> a(size_t(k * k));
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) a[size_t(i * k + j)] = h[(k - 1 - i) * k + (k - 1 - j)];
  const int64_t failed = kn.cholesky_lower(a.data(), k);
  if (failed) return failed;
  for (int64_t i = 0; i < k; ++i)  // clear the scratch above the diagonal: the inverse reads whole rows
    for (int64_t j = i + 1; j < k; ++j) a[size_t(i * k + j)] = 0.0;
  std::vector<double> x(size_t(k * k));
  kn.tri_inverse_lower(a.data(), x.data(), k);
  // U = J L̃⁻¹ J: upper triangular.
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = 0; j < k; ++j) u[i * k + j] = j >= i ? x[size_t((k - 1 - i) * k + (k - 1 - j))] : 0.0;
  return 0;
}

void sparsegpt_sweep(float* w, int64_t rows, int64_t cols, const float* u, uint8_t* mask, const SparsegptPlan& plan) {
  const PruneKernels& kn = kernels();
  constexpr int64_t kRowTile = 8;
  const int64_t B = plan.block;
  std::vector<float> err(size_t(rows * B));
  std::vector<std::pair<double, int64_t>> scores;
  for (int64_t i1 = 0, b = 0; i1 < cols; i1 += B, ++b) {
    const int64_t i2 = std::min(cols, i1 + B), width = i2 - i1;
    for (int64_t r = 0; r < rows; ++r) std::fill(mask + r * cols + i1, mask + r * cols + i2, uint8_t(1));
    if (plan.m == 0) {
      // Unstructured: the block's lowest w²/U_cc², compared across all rows of the block.
      const int64_t count = std::min<int64_t>(plan.prune_counts[b], rows * width);
      if (count > 0) {
        scores.resize(size_t(rows * width));
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < width; ++c) {
            const double wv = w[r * cols + i1 + c], d = u[(i1 + c) * cols + i1 + c];
            scores[size_t(r * width + c)] = {wv * wv / (d * d), r * width + c};
          }
        std::nth_element(scores.begin(), scores.begin() + (count - 1), scores.end());
        for (int64_t s = 0; s < count; ++s) {
          const int64_t at = scores[size_t(s)].second;
          mask[(at / width) * cols + i1 + at % width] = 0;
        }
      }
    }
    parallel_for((rows + kRowTile - 1) / kRowTile, [&](int64_t t) {
      const int64_t r0 = t * kRowTile, r1 = std::min(rows, r0 + kRowTile);
      kn.sparsegpt_rows(w, cols, u, mask, err.data() + r0 * B, r0, r1, i1, i2, plan);
    });
  }
}

}  // namespace sparsenn
