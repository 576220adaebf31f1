// Block-sparse causal prefill attention, flash-style: each task owns one (query head, query block)
// tile, walks the key blocks its mask lists with a running softmax, and writes its rows once.
// The T x T score matrix is never formed.
#include <algorithm>
#include <limits>
#include <vector>

#include "attention_kernels.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

void attention_prefill(const F32View& q, int64_t heads, const KvView& kv, const BlockMaskView& mask,
                       int64_t pos0, float scale, const MutF32View& out) {
  const int64_t T = q.rows, D = kv.head_dim, G = heads / kv.kv_heads;
  const AttendBlockFn attend = attend_block_kernel();
  const int64_t QB = mask.q_blocks;
  parallel_for(heads * QB, [&](int64_t task) {
    const int64_t hq = task / QB, qb = task % QB, h = hq / G;
    const int64_t r0 = qb * mask.block_q, rows = std::min(mask.block_q, T - r0);
    if (rows <= 0) return;
    thread_local std::vector<float> state;
    state.assign(size_t(rows * (D + 2)), 0.f);
    float* m = state.data();
    float* l = m + rows;
    float* acc = l + rows;
    std::fill(m, m + rows, -std::numeric_limits<float>::infinity());
    const float* qt = q.data + r0 * q.cols + hq * D;
    const int64_t mh = mask.mask_heads == 1 ? 0 : hq;
    const int64_t last_visible = pos0 + r0 + rows - 1;
    int32_t tokens[kAttendBlock];
    for (int64_t i = mask.indptr[mh * QB + qb]; i < mask.indptr[mh * QB + qb + 1]; ++i) {
      const int64_t k0 = int64_t(mask.kv_blocks[i]) * mask.block_k;
      const int64_t k1 = std::min({k0 + mask.block_k, kv.length, last_visible + 1});
      for (int64_t t = k0; t < k1; t += kAttendBlock) {
        const int64_t n = std::min(kAttendBlock, k1 - t);
        for (int64_t j = 0; j < n; ++j) tokens[j] = int32_t(t + j);
        attend(qt, q.cols, rows, pos0 + r0, kv, h, tokens, n, 0, scale, m, l, acc);
      }
    }
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out.data + (r0 + r) * out.cols + hq * D;
      const float inv = l[r] > 0 ? 1.f / l[r] : 0.f;
      for (int64_t d = 0; d < D; ++d) o[d] = acc[r * D + d] * inv;
    }
  });
}

}  // namespace sparsenn
