// Double Sparsity integer label scores, AVX-512 VNNI + VBMI variant (label_scores_kernels.h): a
// tile holds byte column c of its 16 tokens at bytes [16c, 16c + 16), so a 64-byte load is 4
// columns x 16 tokens (4 int8 channels, or 8 4-bit channels, widened to bytes by a table lookup);
// vpermb regroups it as 16 dwords of one token's 4 channels, and vpdpbusd adds u8 query
// magnitudes x s8 label codes (negated where the query is negative) for 4 channels of all 16
// tokens: the exact integer sum of the reference.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

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

// One query head's operands for 4 channels: the u8 magnitudes |u_c| (u⁺_c + u⁻_c: one of the two
// is 0) as a dword, and a byte mask of the lanes whose channel has a negative query (after the
// regroup, byte j of every dword is channel quad_channel(q, j)).
struct Quad {
  int32_t magnitudes;
  __mmask64 negative;
};

// Channels of one 64-byte load that a regrouped vector holds, per token dword: Bits = 8 loads 4
// byte columns = 4 channels (one vector); Bits = 4 loads 4 byte columns = 8 channels, whose low
// nibbles (channels 0, 2, 4, 6 of the 8) and high nibbles (1, 3, 5, 7) become two vectors.
template <int Bits>
constexpr int kVectorsPerLoad = Bits == 8 ? 1 : 2;

// Channel j (0..3) of quad q of a head (the q-th regrouped vector in load order).
template <int Bits>
inline int64_t quad_channel(int64_t q, int j) {
  return Bits == 8 ? 4 * q + j : 8 * (q / 2) + 2 * j + q % 2;
}

// The regrouped vectors of one 64-byte load: dword j holds token j's channels of the quad.
template <int Bits>
SPARSENN_LABEL_VNNI_TARGET inline void load_quads(const int8_t* p, __m512i* out) {
  const __m512i regroup = _mm512_set_epi8(63, 47, 31, 15, 62, 46, 30, 14, 61, 45, 29, 13, 60, 44, 28, 12,  //
                                          59, 43, 27, 11, 58, 42, 26, 10, 57, 41, 25, 9, 56, 40, 24, 8,    //
                                          55, 39, 23, 7, 54, 38, 22, 6, 53, 37, 21, 5, 52, 36, 20, 4,      //
                                          51, 35, 19, 3, 50, 34, 18, 2, 49, 33, 17, 1, 48, 32, 16, 0);
  const __m512i raw = _mm512_loadu_si512(p);
  if (Bits == 8) {
    out[0] = _mm512_permutexvar_epi8(regroup, raw);
    return;
  }
  // A nibble n in 0..15 stands for the code n (n < 8) or n - 16: a 16-entry table in every lane.
  const __m512i sign_extend = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1));
  const __m512i low = _mm512_set1_epi8(0x0f);
  out[0] = _mm512_permutexvar_epi8(regroup, _mm512_shuffle_epi8(sign_extend, _mm512_and_si512(raw, low)));
  out[1] = _mm512_permutexvar_epi8(regroup, _mm512_shuffle_epi8(sign_extend, _mm512_and_si512(_mm512_srli_epi16(raw, 4), low)));
}

// NG query heads against NT consecutive tiles; maxes into best[t]. Σ u⁺·code − Σ u⁻·code is
// computed as Σ |u|·(±code): the codes of negative-query channels are negated (a masked byte
// subtract; codes are within ±127, so -code fits) and one vpdpbusd adds the products, half the
// multiply-adds of accumulating u⁺ and u⁻ apart.
template <int Bits, int NG, int NT>
SPARSENN_LABEL_VNNI_TARGET inline void label_vnni_tiles(const Quad* quads, const float* qscales, const int8_t* tile, int64_t r,
                                                        __m512* best) {
  constexpr int kPer = kVectorsPerLoad<Bits>;
  const int64_t tile_bytes = r * Bits * 2, quads_per_head = r / 4, loads = quads_per_head / kPer;
  const __m512i zero = _mm512_setzero_si512();
  __m512i acc[NT][NG];
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) acc[t][g] = zero;
  for (int64_t l = 0; l < loads; ++l) {
    __m512i b[NT][kPer];
    for (int t = 0; t < NT; ++t) {
      const int8_t* p = tile + t * tile_bytes + l * 64;
      _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
      load_quads<Bits>(p, b[t]);
    }
    for (int g = 0; g < NG; ++g)
      for (int v = 0; v < kPer; ++v) {
        const Quad qd = quads[g * quads_per_head + l * kPer + v];
        const __m512i x = _mm512_set1_epi32(qd.magnitudes);
        for (int t = 0; t < NT; ++t)
          acc[t][g] = _mm512_dpbusd_epi32(acc[t][g], x, _mm512_mask_sub_epi8(b[t][v], qd.negative, zero, b[t][v]));
      }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) {
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(qscales[g]), _mm512_cvtepi32_ps(acc[t][g]));
      best[t] = _mm512_max_ps(s, best[t]);  // s > best ? s : best, as the reference
    }
}

template <int Bits, int NT>
SPARSENN_LABEL_VNNI_TARGET inline void label_vnni_all_heads(const Quad* quads, const float* qscales, int64_t groups,
                                                            const int8_t* tile, int64_t r, __m512* best) {
  for (int64_t g0 = 0; g0 < groups; g0 += 4) {
    const Quad* qg = quads + g0 * (r / 4);
    switch (std::min<int64_t>(4, groups - g0)) {
      case 1: label_vnni_tiles<Bits, 1, NT>(qg, qscales + g0, tile, r, best); break;
      case 2: label_vnni_tiles<Bits, 2, NT>(qg, qscales + g0, tile, r, best); break;
      case 3: label_vnni_tiles<Bits, 3, NT>(qg, qscales + g0, tile, r, best); break;
      default: label_vnni_tiles<Bits, 4, NT>(qg, qscales + g0, tile, r, best); break;
    }
  }
}

// Every head's magnitudes and sign masks, a quad of channels at a time in load order, then the
// tiles two at a time.
template <int Bits>
SPARSENN_LABEL_VNNI_TARGET void label_scores(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                             const float* scales, int64_t r, int64_t tiles, float* out) {
  thread_local std::vector<Quad> quad_buffer;
  std::vector<Quad>& quads = quad_buffer;
  const int64_t per_head = r / 4;
  quads.resize(size_t(groups * per_head));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t q = 0; q < per_head; ++q) {
      uint32_t magnitudes = 0;
      uint64_t negative = 0;
      for (int j = 0; j < 4; ++j) {
        const int64_t c = quad_channel<Bits>(q, j);
        const uint8_t up = u[g * 2 * r + c], down = u[g * 2 * r + r + c];
        magnitudes |= uint32_t(uint8_t(up + down)) << (8 * j);
        if (down != 0) negative |= uint64_t(0x1111111111111111ull) << j;
      }
      quads[size_t(g * per_head + q)] = Quad{int32_t(magnitudes), __mmask64(negative)};
    }
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t tile_bytes = r * Bits * 2;
  constexpr int64_t kStep = 2;
  int64_t i = 0;
  for (; i + kStep <= tiles; i += kStep) {
    __m512 best[kStep] = {neg_inf, neg_inf};
    label_vnni_all_heads<Bits, kStep>(quads.data(), qscales, groups, tiles_data + i * tile_bytes, r, best);
    for (int64_t t = 0; t < kStep; ++t)
      _mm512_storeu_ps(out + 16 * (i + t), _mm512_mul_ps(best[t], _mm512_loadu_ps(scales + 16 * (i + t))));
  }
  for (; i < tiles; ++i) {
    __m512 best = neg_inf;
    label_vnni_all_heads<Bits, 1>(quads.data(), qscales, groups, tiles_data + i * tile_bytes, r, &best);
    _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(best, _mm512_loadu_ps(scales + 16 * i)));
  }
}

}  // namespace

SPARSENN_LABEL_VNNI_TARGET void label_int_scores(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                                 const float* scales, int64_t r, int64_t tiles, float* out) {
  label_scores<8>(u, qscales, groups, tiles_data, scales, r, tiles, out);
}

SPARSENN_LABEL_VNNI_TARGET void label4_int_scores(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                                  const float* scales, int64_t r, int64_t tiles, float* out) {
  label_scores<4>(u, qscales, groups, tiles_data, scales, r, tiles, out);
}

bool label_vnni_supported() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
}
#else
void label_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*) {}
void label4_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*) {}
bool label_vnni_supported() { return false; }
#endif

}  // namespace avx512
}  // namespace sparsenn
#endif
