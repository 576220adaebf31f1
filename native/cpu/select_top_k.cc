// Exact top-k for the selection policies (sparsenn/attention_select.h, top_k_ascending): the k
// largest of a row of scores, returned in ascending index order with ties to the lower index, in
// linear time (a sampled pre-filter, then a select on the few candidates, or a radix select).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "attention_select_kernels.h"
#include "isa.h"
#include "sparsenn/attention_select.h"

namespace sparsenn {

namespace {

CollectAtLeastFn collect_kernel() {
  static const CollectAtLeastFn kernel = pick_kernel<CollectAtLeastFn>(
      SPARSENN_X86_KERNEL(avx512::collect_at_least), SPARSENN_X86_KERNEL(avx2::collect_at_least), portable::collect_at_least);
  return kernel;
}

inline uint32_t f32_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

// Monotone map of a float to an unsigned key (larger float, larger key); NaN ranks as -inf and
// -0 as +0, matching the comparisons of the reference.
inline uint32_t order_key(float x) {
  uint32_t b = f32_bits(x);
  b = (b & 0x7fffffffu) > 0x7f800000u ? 0xff800000u : b;  // NaN
  b = b == 0x80000000u ? 0u : b;                          // -0
  const uint32_t neg = uint32_t(int32_t(b) >> 31);        // all ones for negatives
  return b ^ (neg | 0x80000000u);
}

}  // namespace

namespace {

// Per-thread top-k scratch; it only grows, and is looked up once per call (thread_local access in
// a shared library is a call).
struct TopKScratch {
  std::vector<uint32_t> keys, cand;  // radix select, candidates
  std::vector<uint32_t> picked, positions;           // sampled pre-filter
  std::vector<float> picked_scores;
  void reserve(int64_t n) {
    if (keys.size() >= size_t(n)) return;
    for (auto* v : {&keys, &cand, &positions}) v->resize(size_t(n));
    picked.resize(size_t(n) + 16);
    picked_scores.resize(size_t(n));
  }
};

// Radix select of the k-th largest key, digit by digit (11, 11, 10 bits from the top), keeping
// only the candidates that share the prefix found so far. Exact for any input.
void top_k_radix(const float* s, int64_t n, int64_t k, uint32_t* out, TopKScratch& sc) {
  uint32_t* keys = sc.keys.data();
  uint32_t* cand = sc.cand.data();
  // Scores crowd into few top-digit bins, so one histogram would serialise on its own counters:
  // four copies, merged after.
  uint32_t hist4[4][2048];
  std::memset(hist4, 0, sizeof hist4);
  int64_t i0 = 0;
  for (; i0 + 4 <= n; i0 += 4)
    for (int u = 0; u < 4; ++u) {
      const uint32_t key = order_key(s[i0 + u]);
      keys[i0 + u] = key;
      ++hist4[u][key >> 21];
    }
  for (; i0 < n; ++i0) {
    const uint32_t key = order_key(s[i0]);
    keys[i0] = key;
    ++hist4[0][key >> 21];
  }
  uint32_t hist[2048];
  for (int b = 0; b < 2048; ++b) hist[b] = hist4[0][b] + hist4[1][b] + hist4[2][b] + hist4[3][b];
  // Finds the bin from the top where the `need`-th largest falls; need becomes the rank inside it.
  auto find_bin = [](const uint32_t* hg, int bins, int64_t& need) {
    for (int b = bins - 1; b >= 0; --b) {
      if (need <= int64_t(hg[b])) return uint32_t(b);
      need -= hg[b];
    }
    return uint32_t(0);  // unreachable: the bins hold at least `need` keys
  };
  int64_t need = k;
  const uint32_t b1 = find_bin(hist, 2048, need);
  // The keys in that bin are the candidates for the lower digits. Written without branches: which
  // side a score falls on is random, and mispredictions cost more than the stores.
  int64_t nc = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = keys[i];
    cand[nc] = key;
    nc += (key >> 21) == b1;
  }
  std::memset(hist, 0, sizeof hist);
  for (int64_t c = 0; c < nc; ++c) ++hist[(cand[c] >> 10) & 0x7ffu];
  const uint32_t b2 = find_bin(hist, 2048, need);
  std::memset(hist, 0, 1024 * sizeof(uint32_t));
  for (int64_t c = 0; c < nc; ++c)
    if (((cand[c] >> 10) & 0x7ffu) == b2) ++hist[cand[c] & 0x3ffu];
  const uint32_t b3 = find_bin(hist, 1024, need);
  const uint32_t threshold = (b1 << 21) | (b2 << 10) | b3;
  // One pass in index order keeps the keys above the threshold and the first `need` equal to it
  // (ties to the lower index), so the list comes out ascending with no merge.
  int64_t ties = need, o = 0;
  for (int64_t i = 0; i < n && o < k; ++i) {  // (o < k: out holds k entries)
    const uint32_t key = keys[i];
    const bool tie = key == threshold && ties > 0;
    out[o] = uint32_t(i);  // written always, kept when taken
    o += key > threshold || tie;
    ties -= tie;
  }
}

// Exact top-k of a few candidates (their indices `idx`, ascending): the k-th largest key by
// nth_element on a copy, then one pass in index order keeps the keys above it and the first ones
// equal to it, so the list comes out ascending (ties to the lower index) with no sort. Sorting the
// k indices cost more than the selection: Double Sparsity at 32K keeps 2047 of ~2900 candidates
// per head (one thread, 8 heads: 0.72 -> 0.23 ms).
void top_k_candidates(const float* s, const uint32_t* idx, int64_t c, int64_t k, uint32_t* out, TopKScratch& sc) {
  uint32_t* keys = sc.keys.data();
  uint32_t* order = sc.cand.data();
  for (int64_t j = 0; j < c; ++j) order[j] = keys[j] = order_key(s[idx[j]]);
  std::nth_element(order, order + (k - 1), order + c, std::greater<uint32_t>());
  const uint32_t threshold = order[k - 1];
  int64_t ties = 0;  // keys equal to the threshold among the k largest
  for (int64_t j = 0; j < k; ++j) ties += order[j] == threshold;
  int64_t o = 0;
  for (int64_t j = 0; j < c && o < k; ++j) {  // (o < k: out holds k entries)
    const uint32_t key = keys[j];
    const bool tie = key == threshold && ties > 0;
    out[o] = idx[j];  // written always, kept when taken: no branch to mispredict
    o += key > threshold || tie;
    ties -= tie;
  }
}

// Pre-filter for long rows: a threshold from a strided sample of m scores, set 3 sigma below the
// sample's k/n quantile so that almost surely at least k scores reach it; one vectorised pass keeps
// those (a few more than k), and an exact select runs on them alone (a partial sort when they are
// few, else the radix select). Ties go to the lower index as in the radix select on the whole row.
// Returns false (nothing written) when fewer than k scores reach the threshold.
template <int64_t m>
bool top_k_prefiltered(const float* s, int64_t n, int64_t k, uint32_t* out, TopKScratch& sc) {
  float sample[m];
  const int64_t stride = n / m;
  for (int64_t j = 0; j < m; ++j) {
    const float x = s[j * stride];
    sample[j] = std::isnan(x) ? -std::numeric_limits<float>::infinity() : x;
  }
  const double expect = double(k) / double(n) * m;
  const int64_t r = std::min<int64_t>(m - 1, int64_t(std::ceil(expect + 3 * std::sqrt(expect) + 2)));
  std::nth_element(sample, sample + r, sample + m, [](float a, float b) { return a > b; });
  const float low = sample[r];
  uint32_t* picked = sc.picked.data();
  const int64_t c = collect_kernel()(s, n, low, picked);
  if (c < k) return false;
  if (c == k) {
    std::copy(picked, picked + k, out);
    return true;
  }
  if (c <= 4096) {
    top_k_candidates(s, picked, c, k, out, sc);
    return true;
  }
  float* v = sc.picked_scores.data();
  for (int64_t j = 0; j < c; ++j) v[j] = s[picked[j]];
  uint32_t* pos = sc.positions.data();
  top_k_radix(v, c, k, pos, sc);
  for (int64_t j = 0; j < k; ++j) out[j] = picked[pos[j]];
  return true;
}

}  // namespace

void top_k_ascending(const float* s, int64_t n, int64_t k, uint32_t* out) {
  if (k <= 0) return;
  if (k >= n) {
    for (int64_t i = 0; i < n; ++i) out[i] = uint32_t(i);
    return;
  }
  thread_local TopKScratch tls;
  TopKScratch& sc = tls;
  sc.reserve(n);
  // Quest at 1/16 of 32K tokens picks 127 of 2047 pages per head: the sampled pre-filter pays there too.
  if (n >= 8192 && k * 4 <= n && top_k_prefiltered<1024>(s, n, k, out, sc)) return;
  if (n >= 1024 && n < 8192 && k * 4 <= n && top_k_prefiltered<256>(s, n, k, out, sc)) return;
  top_k_radix(s, n, k, out, sc);
}

}  // namespace sparsenn
