// Double Sparsity integer label scores, AVX-512 VNNI + VBMI variant (label_scores_kernels.h): a
// tile holds channel c of its 16 tokens at bytes [16c, 16c + 16), so a 64-byte load is 4 channels
// x 16 tokens; vpermb regroups it as 16 dwords of one token's 4 channels, and vpdpbusd adds u8
// query codes x s8 label codes for 4 channels of all 16 tokens. The q⁺ and q⁻ codes accumulate
// separately and are subtracted at the end: the exact integer sum of the reference.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "label_scores_kernels.h"

namespace sparsenn {
namespace avx512 {

#if defined(__GNUC__) || defined(__clang__)
// The addon's AVX-512 flags stop at F/BW/VL/DQ; these functions alone use VNNI and VBMI, and run
// only where label_vnni_supported() (checked once, by the dispatcher).
#define SPARSENN_LABEL_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

namespace {

// Label rows stream from memory once per step; ask for them this far ahead (the hardware
// prefetcher also sees the stream, this keeps a few more lines in flight).
constexpr int64_t kPrefetchBytes = 2048;

// NG query heads against NT consecutive tiles; maxes into best[t].
template <int NG, int NT>
SPARSENN_LABEL_VNNI_TARGET inline void label_vnni_tiles(const uint8_t* u, const float* qscales, const int8_t* tile, int64_t r,
                                                        __m512* best) {
  const int64_t tile_bytes = r * 16;
  const __m512i regroup = _mm512_set_epi8(63, 47, 31, 15, 62, 46, 30, 14, 61, 45, 29, 13, 60, 44, 28, 12,  //
                                          59, 43, 27, 11, 58, 42, 26, 10, 57, 41, 25, 9, 56, 40, 24, 8,    //
                                          55, 39, 23, 7, 54, 38, 22, 6, 53, 37, 21, 5, 52, 36, 20, 4,      //
                                          51, 35, 19, 3, 50, 34, 18, 2, 49, 33, 17, 1, 48, 32, 16, 0);
  __m512i pos[NT][NG], neg[NT][NG];
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) pos[t][g] = neg[t][g] = _mm512_setzero_si512();
  for (int64_t c4 = 0; c4 < r / 4; ++c4) {
    __m512i b[NT];
    for (int t = 0; t < NT; ++t) {
      _mm_prefetch(reinterpret_cast<const char*>(tile + t * tile_bytes + c4 * 64) + kPrefetchBytes, _MM_HINT_T0);
      b[t] = _mm512_permutexvar_epi8(regroup, _mm512_loadu_si512(tile + t * tile_bytes + c4 * 64));
    }
    for (int g = 0; g < NG; ++g) {
      int32_t up, down;
      std::memcpy(&up, u + g * 2 * r + 4 * c4, 4);
      std::memcpy(&down, u + g * 2 * r + r + 4 * c4, 4);
      const __m512i xu = _mm512_set1_epi32(up), xd = _mm512_set1_epi32(down);
      for (int t = 0; t < NT; ++t) {
        pos[t][g] = _mm512_dpbusd_epi32(pos[t][g], xu, b[t]);
        neg[t][g] = _mm512_dpbusd_epi32(neg[t][g], xd, b[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) {
      const __m512i sum = _mm512_sub_epi32(pos[t][g], neg[t][g]);
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(qscales[g]), _mm512_cvtepi32_ps(sum));
      best[t] = _mm512_max_ps(s, best[t]);  // s > best ? s : best, as the reference
    }
}

template <int NT>
SPARSENN_LABEL_VNNI_TARGET inline void label_vnni_all_heads(const uint8_t* u, const float* qscales, int64_t groups,
                                                            const int8_t* tile, int64_t r, __m512* best) {
  for (int64_t g0 = 0; g0 < groups; g0 += 4) {
    const uint8_t* ug = u + g0 * 2 * r;
    switch (std::min<int64_t>(4, groups - g0)) {
      case 1: label_vnni_tiles<1, NT>(ug, qscales + g0, tile, r, best); break;
      case 2: label_vnni_tiles<2, NT>(ug, qscales + g0, tile, r, best); break;
      case 3: label_vnni_tiles<3, NT>(ug, qscales + g0, tile, r, best); break;
      default: label_vnni_tiles<4, NT>(ug, qscales + g0, tile, r, best); break;
    }
  }
}

}  // namespace

SPARSENN_LABEL_VNNI_TARGET void label_int_scores(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                                 const float* scales, int64_t r, int64_t tiles, float* out) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t tile_bytes = r * 16;
  constexpr int64_t kStep = 2;
  int64_t i = 0;
  for (; i + kStep <= tiles; i += kStep) {
    __m512 best[kStep] = {neg_inf, neg_inf};
    label_vnni_all_heads<kStep>(u, qscales, groups, tiles_data + i * tile_bytes, r, best);
    for (int64_t t = 0; t < kStep; ++t)
      _mm512_storeu_ps(out + 16 * (i + t), _mm512_mul_ps(best[t], _mm512_loadu_ps(scales + 16 * (i + t))));
  }
  for (; i < tiles; ++i) {
    __m512 best = neg_inf;
    label_vnni_all_heads<1>(u, qscales, groups, tiles_data + i * tile_bytes, r, &best);
    _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(best, _mm512_loadu_ps(scales + 16 * i)));
  }
}

bool label_vnni_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
}
#else
void label_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*) {}
bool label_vnni_supported() { return false; }
#endif

}  // namespace avx512
}  // namespace sparsenn
#endif
