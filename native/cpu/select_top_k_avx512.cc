// Top-k passes, AVX-512 variant: 16 keys per step, compressed in registers and stored whole or
// under a mask (a compress straight to memory is microcoded and slow on some cores, Zen 4 among them).
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "select_top_k_kernels.h"

namespace sparsenn {
namespace avx512 {

int64_t collect_window(const float* s, int64_t n, float low, uint16_t* out) {
  const __m512 lo = _mm512_set1_ps(low);
  const __m512i step = _mm512_set1_epi32(16);
  __m512i iv = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  int64_t c = 0, i = 0;
  for (; i + 16 <= n; i += 16) {
    const __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + i), lo, _CMP_GE_OQ);
    // (the zero-masked conversion: GCC 12 warns on the plain one's undefined source)
    const __m256i v = _mm512_maskz_cvtepi32_epi16(__mmask16(0xffff), _mm512_maskz_compress_epi32(m, iv));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), v);
    c += __builtin_popcount(m);
    iv = _mm512_add_epi32(iv, step);
  }
  for (; i < n; ++i) {
    out[c] = uint16_t(i);
    c += s[i] >= low;
  }
  return c;
}

__attribute__((target("avx512vbmi2"))) int64_t collect_window_vbmi2(const float* s, int64_t n, float low, uint16_t* out) {
  const __m512 lo = _mm512_set1_ps(low);
  const __m512i step = _mm512_set1_epi16(32);
  __m512i iv = _mm512_set_epi16(31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9,
                                8, 7, 6, 5, 4, 3, 2, 1, 0);
  int64_t c = 0, i = 0;
  for (; i + 32 <= n; i += 32) {
    const __mmask16 m0 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + i), lo, _CMP_GE_OQ);
    const __mmask16 m1 = _mm512_cmp_ps_mask(_mm512_loadu_ps(s + i + 16), lo, _CMP_GE_OQ);
    const __mmask32 m = _mm512_kunpackw(m1, m0);  // m0 in the low half
    _mm512_storeu_si512(out + c, _mm512_maskz_compress_epi16(m, iv));
    c += __builtin_popcount(m);
    iv = _mm512_add_epi16(iv, step);
  }
  for (; i < n; ++i) {
    out[c] = uint16_t(i);
    c += s[i] >= low;
  }
  return c;
}

int64_t keys_in_range(const uint32_t* keys, int64_t m, uint32_t lo, uint32_t hi, uint32_t* out) {
  // key - lo <= hi - lo (unsigned): one compare for both ends.
  const __m512i l = _mm512_set1_epi32(int32_t(lo)), w = _mm512_set1_epi32(int32_t(hi - lo));
  int64_t o = 0, j = 0;
  for (; j + 16 <= m; j += 16) {  // in place: the block is loaded before a store can reach it
    const __m512i key = _mm512_loadu_si512(keys + j);
    const __mmask16 in = _mm512_cmple_epu32_mask(_mm512_sub_epi32(key, l), w);
    _mm512_storeu_si512(out + o, _mm512_maskz_compress_epi32(in, key));
    o += __builtin_popcount(in);
  }
  return o + portable::keys_in_range(keys + j, m - j, lo, hi, out + o);  // the last few (in place: o <= j)
}

int64_t take_top(const uint32_t* keys, const uint16_t* at, int64_t c, uint32_t first, uint32_t threshold,
                 int64_t* ties_left, int64_t room, uint32_t* out) {
  int64_t ties = *ties_left;
  const __m512i t = _mm512_set1_epi32(int32_t(threshold)), base = _mm512_set1_epi32(int32_t(first));
  int64_t o = 0, j = 0;
  for (; j + 16 <= c && o < room; j += 16) {
    const __m512i key = _mm512_loadu_si512(keys + j);
    // Only the first `ties` equal keys are kept (ties to the lower index); this trims at most once.
    const uint32_t eq = lowest_set_bits(_mm512_cmpeq_epi32_mask(key, t), ties);
    ties -= __builtin_popcount(eq);
    const __mmask16 m = __mmask16(_mm512_cmpgt_epu32_mask(key, t) | eq);
    const __m256i at16 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at + j));
    const __m512i idx = _mm512_add_epi32(base, _mm512_maskz_cvtepu16_epi32(__mmask16(0xffff), at16));  // (maskz: see above)
    const int64_t taken = std::min<int64_t>(__builtin_popcount(m), room - o);
    // A masked store writes only the taken lanes: out ends at room, the next head's list follows.
    _mm512_mask_storeu_epi32(out + o, __mmask16((1u << taken) - 1), _mm512_maskz_compress_epi32(m, idx));
    o += taken;
  }
  // The last few candidates, one at a time as the portable variant takes them all.
  o += portable::take_top(keys + j, at + j, c - j, first, threshold, &ties, room - o, out + o);
  *ties_left = ties;
  return o;
}

}  // namespace avx512
}  // namespace sparsenn
#endif
