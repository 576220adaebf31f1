// The per-ISA passes of the exact top-k (select_top_k.cc): collecting a window's candidates,
// keeping the keys in a range, writing out the chosen indices. The decisions between them are
// scalar and shared, so every ISA returns the same list.
#pragma once
#include <cstdint>

namespace sparsenn {

// The candidates are collected in windows of 64K scores, as 16-bit indices inside the window: half
// the stores of 32-bit ones, and with AVX-512 VBMI2 half the compresses.
constexpr int64_t kWindow = 65536;

// Writes the indices i < n (n <= kWindow) with s[i] >= low (NaN never), ascending, to out and
// returns how many. out must have room for n + 32 entries (a variant may store whole vectors past
// the count).
using CollectWindowFn = int64_t (*)(const float* s, int64_t n, float low, uint16_t* out);

// Copies the keys[0..m) that lie in [lo, hi], in order, to out and returns how many. out may be keys
// itself; it must have room for m + 16 entries (a variant may store whole vectors past the count).
using KeysInRangeFn = int64_t (*)(const uint32_t* keys, int64_t m, uint32_t lo, uint32_t hi, uint32_t* out);

// Walks one window's candidates in order (their keys, and their indices `at` in the window from
// `first`) and writes first + at[j] to out for every key above `threshold` and for the first *ties
// keys equal to it (*ties counts down, across windows); at most `room` entries (out ends there:
// nothing is written past them). Returns how many it wrote.
using TakeTopFn = int64_t (*)(const uint32_t* keys, const uint16_t* at, int64_t c, uint32_t first, uint32_t threshold,
                              int64_t* ties, int64_t room, uint32_t* out);

namespace {

// The lowest n set bits of mask (all of it when it has at most n): of a vector's keys equal to the
// threshold, the ones a take_top keeps (ties to the lower index). Scalar, so each variant file keeps
// its own copy (unnamed namespace) compiled for its own flags.
inline uint32_t lowest_set_bits(uint32_t mask, int64_t n) {
  if (__builtin_popcount(mask) <= n) return mask;
  uint32_t kept = 0;
  for (int64_t r = 0; r < n; ++r) {
    kept |= mask & (0u - mask);  // lowest set bit
    mask &= mask - 1;
  }
  return kept;
}

}  // namespace

namespace portable {
int64_t collect_window(const float*, int64_t, float, uint16_t*);
int64_t keys_in_range(const uint32_t*, int64_t, uint32_t, uint32_t, uint32_t*);
int64_t take_top(const uint32_t*, const uint16_t*, int64_t, uint32_t, uint32_t, int64_t*, int64_t, uint32_t*);
}
namespace avx2 {
int64_t collect_window(const float*, int64_t, float, uint16_t*);
int64_t keys_in_range(const uint32_t*, int64_t, uint32_t, uint32_t, uint32_t*);
int64_t take_top(const uint32_t*, const uint16_t*, int64_t, uint32_t, uint32_t, int64_t*, int64_t, uint32_t*);
}
namespace avx512 {
int64_t collect_window(const float*, int64_t, float, uint16_t*);
// The same with 32 16-bit lanes per compress, only where cpu_has_avx512_vbmi2() (isa.h: the addon's
// AVX-512 flags do not imply VBMI2).
int64_t collect_window_vbmi2(const float*, int64_t, float, uint16_t*);
int64_t keys_in_range(const uint32_t*, int64_t, uint32_t, uint32_t, uint32_t*);
int64_t take_top(const uint32_t*, const uint16_t*, int64_t, uint32_t, uint32_t, int64_t*, int64_t, uint32_t*);
}

}  // namespace sparsenn
