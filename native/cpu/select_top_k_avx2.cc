// Top-k passes, AVX2 variant: 8 lanes per step. AVX2 has no compress, so a table gives, for each
// 8-lane mask, its set lanes packed to the front, and a permute moves them there. AVX2 compares
// only signed integers: unsigned keys are compared with their top bits flipped.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "select_top_k_kernels.h"

namespace sparsenn {
namespace avx2 {

namespace {

// For each 8-bit mask, the positions of its set bits in order (then zeros): 4 KiB.
struct PackedLanes {
  alignas(16) uint16_t lanes[256][8];
  constexpr PackedLanes() : lanes() {
    for (int m = 0; m < 256; ++m)
      for (int b = 0, c = 0; b < 8; ++b)
        if (m >> b & 1) lanes[m][c++] = uint16_t(b);
  }
};
constexpr PackedLanes kPackedLanes{};

inline __m128i packed_lanes16(unsigned m) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(kPackedLanes.lanes[m]));
}

// The lanes of m packed to the front of v (the rest: copies of lane 0).
inline __m256i pack32(__m256i v, unsigned m) {
  return _mm256_permutevar8x32_epi32(v, _mm256_cvtepu16_epi32(packed_lanes16(m)));
}

// Bit l set where lane l of a compare result is all ones.
inline unsigned lane_mask(__m256i compare) { return unsigned(_mm256_movemask_ps(_mm256_castsi256_ps(compare))); }

inline __m256i sign_bits() { return _mm256_set1_epi32(int32_t(0x80000000u)); }

}  // namespace

int64_t collect_window(const float* s, int64_t n, float low, uint16_t* out) {
  const __m256 lo = _mm256_set1_ps(low);
  __m128i first = _mm_setzero_si128();  // i in every 16-bit lane (n <= 65536: no lane overflows)
  const __m128i step = _mm_set1_epi16(8);
  int64_t c = 0, i = 0;
  for (; i + 8 <= n; i += 8) {
    const unsigned m = unsigned(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(s + i), lo, _CMP_GE_OQ)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + c), _mm_add_epi16(first, packed_lanes16(m)));
    c += __builtin_popcount(m);
    first = _mm_add_epi16(first, step);
  }
  for (; i < n; ++i) {
    out[c] = uint16_t(i);
    c += s[i] >= low;
  }
  return c;
}

int64_t keys_in_range(const uint32_t* keys, int64_t m, uint32_t lo, uint32_t hi, uint32_t* out) {
  // key - lo <= hi - lo (unsigned): one compare for both ends.
  const __m256i sign = sign_bits(), l = _mm256_set1_epi32(int32_t(lo)), w = _mm256_set1_epi32(int32_t((hi - lo) ^ 0x80000000u));
  int64_t o = 0, j = 0;
  for (; j + 8 <= m; j += 8) {  // in place: the block is loaded before a store can reach it
    const __m256i key = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(keys + j));
    const __m256i off = _mm256_xor_si256(_mm256_sub_epi32(key, l), sign);
    const unsigned in = ~lane_mask(_mm256_cmpgt_epi32(off, w)) & 0xffu;
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + o), pack32(key, in));
    o += __builtin_popcount(in);
  }
  return o + portable::keys_in_range(keys + j, m - j, lo, hi, out + o);  // the last few (in place: o <= j)
}

int64_t take_top(const uint32_t* keys, const uint16_t* at, int64_t c, uint32_t first, uint32_t threshold,
                 int64_t* ties_left, int64_t room, uint32_t* out) {
  int64_t ties = *ties_left;
  const __m256i sign = sign_bits(), t = _mm256_set1_epi32(int32_t(threshold ^ 0x80000000u));
  const __m256i base = _mm256_set1_epi32(int32_t(first));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  int64_t o = 0, j = 0;
  for (; j + 8 <= c && o < room; j += 8) {
    const __m256i key = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(keys + j)), sign);
    // Only the first `ties` equal keys are kept (ties to the lower index); this trims at most once.
    const unsigned eq = lowest_set_bits(lane_mask(_mm256_cmpeq_epi32(key, t)), ties);
    ties -= __builtin_popcount(eq);
    const unsigned m = lane_mask(_mm256_cmpgt_epi32(key, t)) | eq;
    const int64_t taken = std::min<int64_t>(__builtin_popcount(m), room - o);
    const __m256i v = pack32(
        _mm256_add_epi32(base, _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(at + j)))), m);
    // out ends at room, the next head's list follows: a masked store past room - 8.
    if (o + 8 <= room)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + o), v);
    else
      _mm256_maskstore_epi32(reinterpret_cast<int*>(out + o), _mm256_cmpgt_epi32(_mm256_set1_epi32(int32_t(taken)), lane), v);
    o += taken;
  }
  // The last few candidates, one at a time as the portable variant takes them all.
  o += portable::take_top(keys + j, at + j, c - j, first, threshold, &ties, room - o, out + o);
  *ties_left = ties;
  return o;
}

}  // namespace avx2
}  // namespace sparsenn
#endif
