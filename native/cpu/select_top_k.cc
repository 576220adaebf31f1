// Exact top-k for the selection policies (sparsenn/attention_select.h, top_k_ascending): the k
// largest of a row of scores, returned in ascending index order with ties to the lower index, in
// linear time. A strided sample gives a score that almost surely k scores reach; one vectorised pass
// collects the indices of those (a few more than k); a histogram select on their keys finds the k-th
// largest; a second vectorised pass writes out the indices of the k.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <vector>

#include "isa.h"
#include "select_top_k_kernels.h"
#include "sparsenn/attention_select.h"

namespace sparsenn {

namespace {

CollectWindowFn collect_kernel() {
  static const CollectWindowFn kernel = [] {
#if SPARSENN_X86
    // (VBMI2 on top of the AVX-512 variant: not when SPARSENN_SIMD lowered the level)
    if (active_isa() == Isa::Avx512)
      return cpu_has_avx512_vbmi2() ? avx512::collect_window_vbmi2 : avx512::collect_window;
#endif
    return pick_kernel<CollectWindowFn>(nullptr, SPARSENN_X86_KERNEL(avx2::collect_window), portable::collect_window);
  }();
  return kernel;
}

KeysInRangeFn range_kernel() {
  static const KeysInRangeFn kernel = pick_kernel<KeysInRangeFn>(
      SPARSENN_X86_KERNEL(avx512::keys_in_range), SPARSENN_X86_KERNEL(avx2::keys_in_range), portable::keys_in_range);
  return kernel;
}

TakeTopFn take_kernel() {
  static const TakeTopFn kernel = pick_kernel<TakeTopFn>(SPARSENN_X86_KERNEL(avx512::take_top),
                                                         SPARSENN_X86_KERNEL(avx2::take_top), portable::take_top);
  return kernel;
}

// Monotone map of a float to an unsigned key (larger float, larger key); NaN ranks as -inf and -0
// as +0, matching the comparisons of the reference (lib/attention/top_k.ts).
inline uint32_t order_key(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  b = (b & 0x7fffffffu) > 0x7f800000u ? 0xff800000u : b;  // NaN
  b = b == 0x80000000u ? 0u : b;                          // -0
  const uint32_t neg = uint32_t(int32_t(b) >> 31);        // all ones for negatives
  return b ^ (neg | 0x80000000u);
}

// Per-thread scratch; it only grows, and is looked up once per call (thread_local access in a
// shared library is a call).
struct TopKScratch {
  std::vector<uint16_t> at;              // candidates: indices inside their 64K window
  std::vector<uint32_t> keys, narrowed;  // their keys; the select's working set
  std::vector<int64_t> ends;             // each window's end among the candidates
  void reserve(int64_t n) {
    ends.resize(size_t((n + kWindow - 1) / kWindow));
    if (keys.size() >= size_t(n) + 32) return;
    for (auto* v : {&keys, &narrowed}) v->resize(size_t(n) + 32);
    at.resize(size_t(n) + 32);
  }
};

// The k-th largest key, and how many keys equal to it are among the k largest (the first ones in
// index order are taken).
struct Threshold {
  uint32_t key;
  int64_t ties;
};

// Bits of the key resolved per histogram round (2048 counters: 8 KiB, in L1 beside the keys).
constexpr int kBinBits = 11;
constexpr uint32_t kBins = 1u << kBinBits;
// At or below this many keys left in the bin, a sort finishes faster than another round.
constexpr int64_t kSortAtMost = 32;

int bit_width(uint32_t x) {
  int w = 0;
  for (; x; x >>= 1) ++w;
  return w;
}

// Counts keys[0..m) in `bins` bins of width 2^shift from base; the last bin also takes every key
// above it (a range guessed from a sample may fall short of the largest key).
void count_bins(const uint32_t* keys, int64_t m, uint32_t base, int shift, uint32_t bins, uint32_t* hist) {
  std::memset(hist, 0, bins * sizeof(uint32_t));
  for (int64_t j = 0; j < m; ++j) ++hist[std::min((keys[j] - base) >> shift, bins - 1)];
}

// Width of the bins that spread [base, top] over at most kBins of them.
int bin_shift(uint32_t base, uint32_t top) { return std::max(0, bit_width(top - base) - kBinBits); }

// The k-th largest of keys[0..c) (1 <= k <= c), all >= base, given their counts in `bins` bins of
// width 2^shift from base (count_bins; open_top: the last bin also holds every key above it). Each
// round finds the bin holding the rank, keeps only that bin's keys (in `scratch`, room for c + 16)
// and counts them in finer bins spanning the bin. The bins fit the keys' range, not fixed top bits,
// so on real scores (a few thousand distinct keys over some 1500 bins) one round leaves a handful,
// and a small sort ends it.
Threshold kth_largest(const uint32_t* keys, int64_t c, int64_t k, uint32_t base, int shift, uint32_t bins,
                      bool open_top, uint32_t* hist, uint32_t* scratch) {
  const uint32_t* set = keys;
  int64_t m = c, need = k;  // the keys in play; the rank (from the top) sought among them
  for (;;) {
    // Walks the bins from the nearer end: from the top to the need-th largest, or from the bottom
    // to the (m - need + 1)-th smallest; need becomes the rank from the top inside the bin.
    uint32_t b;
    if (need <= m / 2) {
      for (b = bins - 1; need > int64_t(hist[b]); --b) need -= hist[b];
    } else {
      int64_t rank = m - need + 1;
      for (b = 0; rank > int64_t(hist[b]); ++b) rank -= hist[b];
      need = int64_t(hist[b]) - rank + 1;
    }
    const uint32_t bin_lo = base + (b << shift);
    const bool open = open_top && b == bins - 1;
    if (shift == 0 && !open) return {bin_lo, need};
    const uint32_t bin_hi = open ? ~0u : bin_lo + ((1u << shift) - 1);
    m = range_kernel()(set, m, bin_lo, bin_hi, scratch);  // == hist[b]
    set = scratch;
    if (m <= kSortAtMost) {
      std::sort(scratch, scratch + m, std::greater<uint32_t>());
      const uint32_t t = scratch[need - 1];
      int64_t ties = 0;
      for (int64_t j = 0; j < need; ++j) ties += scratch[j] == t;
      return {t, ties};
    }
    uint32_t top = bin_hi;
    if (open) {
      top = 0;
      for (int64_t j = 0; j < m; ++j) top = std::max(top, scratch[j]);
      open_top = false;
    }
    base = bin_lo;
    shift = bin_shift(base, top);
    bins = ((top - base) >> shift) + 1;
    count_bins(set, m, base, shift, bins, hist);
  }
}

// keys[j] = order_key(s[first + at[j]]) for a window's c candidates, each counted in kBins bins of
// width 2^shift from base (the last one open above). When every candidate is above zero
// (`positive`: the usual case, the top scores of a row) a key is the float's bits with the sign bit
// set, which halves this loop's work.
void keys_and_counts(const float* s, const uint16_t* at, int64_t c, bool positive, uint32_t base, int shift,
                     uint32_t* keys, uint32_t* hist) {
  if (positive) {
    for (int64_t j = 0; j < c; ++j) {
      uint32_t key;
      std::memcpy(&key, s + at[j], 4);
      key |= 0x80000000u;
      keys[j] = key;
      ++hist[std::min((key - base) >> shift, kBins - 1)];
    }
    return;
  }
  for (int64_t j = 0; j < c; ++j) {
    const uint32_t key = order_key(s[at[j]]);
    keys[j] = key;
    ++hist[std::min((key - base) >> shift, kBins - 1)];
  }
}

// Writes the indices of the k keys above t.key or among its first t.ties equals, window by window.
void take_windows(const uint32_t* keys, const uint16_t* at, const int64_t* ends, int64_t windows, const Threshold& t,
                  int64_t k, uint32_t* out) {
  int64_t o = 0, ties = t.ties;
  for (int64_t w = 0, start = 0; w < windows && o < k; start = ends[w], ++w)
    o += take_kernel()(keys + start, at + start, ends[w] - start, uint32_t(w * kWindow), t.key, &ties, k - o, out + o);
}

// The float of an order key (order_key's inverse, up to NaN and -0).
float key_float(uint32_t key) {
  const uint32_t b = key & 0x80000000u ? key ^ 0x80000000u : ~key;
  float x;
  std::memcpy(&x, &b, 4);
  return x;
}

// A strided sample of m (at most kMaxSample) of a row's scores as order keys, and the largest.
constexpr int64_t kMaxSample = 512;
uint32_t sample_keys(const float* s, int64_t n, int64_t m, uint32_t* sample) {
  const int64_t stride = n / m;
  uint32_t largest = 0;
  for (int64_t j = 0; j < m; ++j) {
    sample[j] = order_key(s[j * stride]);
    largest = std::max(largest, sample[j]);
  }
  return largest;
}

// A score that at least k of the n almost surely reach, from the sample: `sigmas` standard
// deviations below the sample's k/n quantile, so a few more than k reach it (about 3300 for k =
// 2047 of 32767 at 3 sigmas). (nth_element leaves the sample a permutation of itself: it can be
// asked again for a lower floor.)
float sampled_floor(uint32_t* sample, int64_t m, int64_t n, int64_t k, double sigmas) {
  const double expect = double(k) / double(n) * double(m);
  const int64_t r = std::min<int64_t>(m - 1, int64_t(std::ceil(expect + sigmas * std::sqrt(expect) + 2)));
  std::nth_element(sample, sample + r, sample + m, std::greater<uint32_t>());
  return key_float(sample[r]);
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
  uint16_t* at = sc.at.data();
  uint32_t* keys = sc.keys.data();
  int64_t* ends = sc.ends.data();
  const int64_t windows = int64_t(sc.ends.size());
  uint32_t hist[kBins];
  // Candidates: the scores at or above a sampled floor when k is a small part of the row (Double
  // Sparsity keeps 1/16, Quest 127 of 2047 pages), collected window by window. Their keys are read
  // back by index (a second compress in the collect costs more on Zen 4) and counted in the same
  // pass, in bins spanning the floor to a little past the sample's largest. A floor of -inf would
  // drop the NaNs, which rank as -inf.
  if (n >= 1024 && k * 4 <= n) {
    // A larger sample would cut fewer candidates than its select costs.
    const int64_t m = n >= 8192 ? kMaxSample : kMaxSample / 2;
    uint32_t sample[kMaxSample];
    const uint32_t sample_max = sample_keys(s, n, m, sample);
    // A floor 3 sigmas down almost always leaves k; when a sample that overstates the top leaves
    // fewer (seen about once in 200 rows), a lower one costs one more collect, not a full select.
    for (const double sigmas : {3.0, 8.0}) {
      const float floor = sampled_floor(sample, m, n, k, sigmas);
      if (floor == -std::numeric_limits<float>::infinity()) break;
      const uint32_t base = order_key(floor);
      int shift = 0;  // bins for 3/4 of the counters up to the sample's largest, the rest for headroom
      while (((sample_max - base) >> shift) >= kBins * 3 / 4) ++shift;
      std::memset(hist, 0, sizeof hist);
      int64_t c = 0;
      for (int64_t w = 0; w < windows; ++w) {
        const int64_t first = w * kWindow;
        const int64_t cw = collect_kernel()(s + first, std::min(kWindow, n - first), floor, at + c);
        keys_and_counts(s + first, at + c, cw, floor > 0, base, shift, keys + c, hist);
        ends[w] = c += cw;
      }
      if (c >= k) {
        const Threshold t = kth_largest(keys, c, k, base, shift, kBins, true, hist, sc.narrowed.data());
        take_windows(keys, at, ends, windows, t, k, out);
        return;
      }
    }
  }
  // All the scores.
  uint32_t lo = ~0u, hi = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = order_key(s[i]);
    at[i] = uint16_t(i);  // (the index in its window)
    keys[i] = key;
    lo = std::min(lo, key);
    hi = std::max(hi, key);
  }
  for (int64_t w = 0; w < windows; ++w) ends[w] = std::min(n, (w + 1) * kWindow);
  const int shift = bin_shift(lo, hi);
  const uint32_t bins = ((hi - lo) >> shift) + 1;
  count_bins(keys, n, lo, shift, bins, hist);
  const Threshold t = kth_largest(keys, n, k, lo, shift, bins, false, hist, sc.narrowed.data());
  take_windows(keys, at, ends, windows, t, k, out);
}

}  // namespace sparsenn
