// Y[M,N] = X[M,K] · W with W stored transposed (Wt [K,N]) and X mostly zeros:
// each X row's nonzeros are listed once, then threads split them and stream only
// the selected rows of Wt, whole. Bytes read scale with X's density.
#include <algorithm>
#include <vector>

#include "isa.h"
#include "matmul_input_sparse_kernels.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

void matmul_input_sparse(const F32View& x, const DenseView& wt, const MutF32View& y) {
  const int64_t M = x.rows, K = x.cols, N = wt.cols;
  if (M == 0 || N == 0) return;
  static const InputSparseRangeFn kernel = pick_kernel<InputSparseRangeFn>(
      SPARSENN_X86_KERNEL(avx512::input_sparse_range), SPARSENN_X86_KERNEL(avx2::input_sparse_range),
      portable::input_sparse_range);
  // Nonzeros of every X row: offsets[m] .. offsets[m+1] in rows / vals.
  std::vector<int32_t> rows;
  std::vector<float> vals;
  std::vector<int64_t> offsets(size_t(M + 1), 0);
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = x.data + m * K;
    for (int64_t k = 0; k < K; ++k)
      if (xr[k] != 0.f) {
        rows.push_back(int32_t(k));
        vals.push_back(xr[k]);
      }
    offsets[size_t(m + 1)] = int64_t(rows.size());
  }
  // Each X row's nonzeros are split into `parts` runs; a task streams its run of Wt rows
  // over all N columns into its own partial sum, and the partials are added at the end.
  // (Splitting columns instead would read every Wt row in short pieces.)
  const int64_t parts = std::max<int64_t>(1, std::min<int64_t>(thread_count(), int64_t(rows.size()) / (M * 8) + 1));
  std::vector<float> partial(size_t(M * parts * N));
  parallel_for(M * parts, [&](int64_t task) {
    const int64_t m = task / parts, p = task % parts;
    const int64_t b = offsets[size_t(m)], count = offsets[size_t(m + 1)] - b;
    const int64_t j0 = b + count * p / parts, j1 = b + count * (p + 1) / parts;
    kernel(rows.data() + j0, vals.data() + j0, j1 - j0, wt, partial.data() + task * N, 0, N);
  });
  for (int64_t m = 0; m < M; ++m) {
    float* yr = y.data + m * N;
    const float* p0 = partial.data() + m * parts * N;
    std::copy(p0, p0 + N, yr);
    for (int64_t p = 1; p < parts; ++p)
      for (int64_t c = 0; c < N; ++c) yr[c] += p0[p * N + c];
  }
}

}  // namespace sparsenn
