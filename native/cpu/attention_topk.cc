// Top-k token selection for sparse-attention policies (Double Sparsity, TidalDecode, Quest pages):
// a linear-time threshold search per row instead of a sort, rows in parallel.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "sparsenn/ops.h"
#include "threadpool.h"

namespace sparsenn {

void attention_top_k(const float* scores, int64_t rows, int64_t n, int64_t k, uint32_t* out) {
  if (k <= 0) return;
  parallel_for(rows, [&](int64_t r) {
    const float* s = scores + r * n;
    uint32_t* o = out + r * k;
    // NaN compares false both ways, which nth_element cannot take: rank it below -inf's peers.
    auto key = [](float x) { return std::isnan(x) ? -std::numeric_limits<float>::infinity() : x; };
    thread_local std::vector<float> copy;
    copy.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) copy[size_t(i)] = key(s[i]);
    std::nth_element(copy.begin(), copy.begin() + (n - k), copy.end());
    const float threshold = copy[size_t(n - k)];  // the k-th largest
    int64_t above = 0;
    for (int64_t i = 0; i < n; ++i) above += key(s[i]) > threshold;
    int64_t ties = k - above, j = 0;
    for (int64_t i = 0; i < n && j < k; ++i) {
      const float x = key(s[i]);
      if (x > threshold || (x == threshold && ties-- > 0)) o[j++] = uint32_t(i);
    }
  });
}

}  // namespace sparsenn
