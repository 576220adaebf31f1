// Selection scores for sparse-attention policies (Quest page bounds, Double Sparsity labels,
// TidalDecode keys): the group-max dot products policies rank tokens or pages by, on the same
// SIMD tiles as attention itself, so choosing 1/16 of the keys costs far less than reading them all.
#include <algorithm>

#include "attention_kernels.h"
#include "isa.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

GroupScoresFn group_scores_kernel() {
  static const GroupScoresFn kernel = pick_kernel<GroupScoresFn>(
      SPARSENN_X86_KERNEL(avx512::group_scores), SPARSENN_X86_KERNEL(avx2::group_scores), portable::group_scores);
  return kernel;
}

void attention_group_scores(const F32View& q, const KvView& rows, const MutF32View& out) {
  const int64_t G = q.rows / rows.kv_heads, n = rows.length;
  const GroupScoresFn kernel = group_scores_kernel();
  // Tasks of 16 blocks keep the per-task overhead small next to the rows they read.
  const int64_t per = 16 * kAttendBlock;
  const int64_t chunks = (n + per - 1) / per;
  parallel_for(rows.kv_heads * chunks, [&](int64_t task) {
    const int64_t h = task / chunks, c = task % chunks;
    const int64_t end = std::min(n, (c + 1) * per);
    for (int64_t t = c * per; t < end; t += kAttendBlock)
      kernel(q.data + h * G * q.cols, q.cols, G, rows, h, t, std::min(kAttendBlock, end - t), out.data + h * n + t);
  });
}

}  // namespace sparsenn
