// Y[M,N] = X[M,K] · W with W stored transposed (Wt [K,N]) and X mostly zeros:
// each X row's nonzeros are listed once, then threads split the output columns
// and stream only the selected rows of Wt. Bytes read scale with X's density.
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
  // Column slices small enough to give every thread several, large enough to stream.
  constexpr int64_t kSlice = 512;
  const int64_t slices = (N + kSlice - 1) / kSlice;
  parallel_for(M * slices, [&](int64_t task) {
    const int64_t m = task / slices, s = task % slices;
    const int64_t c0 = s * kSlice, c1 = std::min(N, c0 + kSlice);
    const int64_t b = offsets[size_t(m)];
    kernel(rows.data() + b, vals.data() + b, offsets[size_t(m + 1)] - b, wt, y.data + m * N, c0, c1);
  });
}

}  // namespace sparsenn
