// Row-wise top-k for the sparse-attention policies (TidalDecode's token choice; sparsenn/ops.h):
// each row is one exact linear-time selection (top_k_ascending, select_top_k.cc), rows in parallel.
#include "sparsenn/attention_select.h"
#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

void attention_top_k(const float* scores, int64_t rows, int64_t n, int64_t k, uint32_t* out) {
  if (k <= 0) return;
  parallel_for(rows, [&](int64_t r) { top_k_ascending(scores + r * n, n, k, out + r * k); });
}

}  // namespace sparsenn
