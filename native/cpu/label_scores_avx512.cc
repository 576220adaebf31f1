// Double Sparsity integer label scores, AVX-512 VNNI + VBMI variant (label_scores_kernels.h): a
// tile holds byte column c of its 16 tokens at bytes [16c, 16c + 16), so a 64-byte load is 4
// columns x 16 tokens (4 int8 channels, or 8 4-bit channels widened to bytes by a table lookup);
// vpermb regroups it as 16 dwords of one token's 4 channels, and vpdpbusd adds the label codes
// (offset to unsigned) x the s8 query codes for 4 channels of all 16 tokens; less the offset times
// the sum of the query codes, that is the exact integer sum of the reference.
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
// only where cpu_has_avx512_vnni_vbmi() (isa.h; checked once, by the dispatcher).
#define SPARSENN_LABEL_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

namespace {

// Label rows stream from memory once per step; ask for them this far ahead (the hardware
// prefetcher also sees the stream, this keeps a few more lines in flight).
constexpr int64_t kPrefetchBytes = 2048;

// The label codes offset to unsigned, so they can be vpdpbusd's u8 operand: code + 8 for 4-bit
// codes (within ±7: 1..15), code + 128 for int8 (within ±127: 1..255). The sum then carries
// bias · Σ q over the channels, subtracted once per head.
template <int Bits>
constexpr int32_t kBias = Bits == 8 ? 128 : 8;

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

// The regrouped vectors of one 64-byte load, offset to unsigned: dword j holds token j's
// channels of the quad.
template <int Bits>
SPARSENN_LABEL_VNNI_TARGET inline void load_quads(const int8_t* p, __m512i* out) {
  const __m512i regroup = _mm512_set_epi8(63, 47, 31, 15, 62, 46, 30, 14, 61, 45, 29, 13, 60, 44, 28, 12,  //
                                          59, 43, 27, 11, 58, 42, 26, 10, 57, 41, 25, 9, 56, 40, 24, 8,    //
                                          55, 39, 23, 7, 54, 38, 22, 6, 53, 37, 21, 5, 52, 36, 20, 4,      //
                                          51, 35, 19, 3, 50, 34, 18, 2, 49, 33, 17, 1, 48, 32, 16, 0);
  const __m512i raw = _mm512_loadu_si512(p);
  if (Bits == 8) {
    // code + 128 is the code's byte with the top bit flipped.
    out[0] = _mm512_permutexvar_epi8(regroup, _mm512_xor_si512(raw, _mm512_set1_epi8(char(0x80))));
    return;
  }
  // A nibble n holds the code n (n < 8) or n - 16, so code + 8 is n ^ 8: one ternary-logic op per
  // half, (x ^ 8) & 0xf on each byte (0x28: the truth table of (a ^ b) & c).
  const __m512i flip = _mm512_set1_epi8(0x08), low = _mm512_set1_epi8(0x0f);
  out[0] = _mm512_permutexvar_epi8(regroup, _mm512_ternarylogic_epi32(raw, flip, low, 0x28));
  out[1] = _mm512_permutexvar_epi8(regroup, _mm512_ternarylogic_epi32(_mm512_srli_epi16(raw, 4), flip, low, 0x28));
}

// NG query heads against NT consecutive tiles, for any r; maxes into best[t]. quads[g * r/4 + q] is
// head g's 4 signed codes of quad q (byte j: channel quad_channel(q, j)) as a dword, bias_sums[g] =
// kBias · Σ_c q_c: one vpdpbusd per quad and tile adds (code + bias)·q for 4 channels of 16 tokens,
// onto a start of -bias_sums[g].
template <int Bits, int NG, int NT>
SPARSENN_LABEL_VNNI_TARGET inline void label_vnni_tiles(const int32_t* quads, const int32_t* bias_sums, const float* qscales,
                                                        const int8_t* tile, int64_t r, __m512* best) {
  constexpr int kPer = kVectorsPerLoad<Bits>;
  const int64_t tile_bytes = r * Bits * 2, quads_per_head = r / 4, loads = quads_per_head / kPer;
  __m512i acc[NT][NG];
  for (int g = 0; g < NG; ++g) {
    const __m512i start = _mm512_set1_epi32(-bias_sums[g]);
    for (int t = 0; t < NT; ++t) acc[t][g] = start;
  }
  for (int64_t l = 0; l < loads; ++l) {
    __m512i b[NT][kPer];
    for (int t = 0; t < NT; ++t) {
      const int8_t* p = tile + t * tile_bytes + l * 64;
      _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
      load_quads<Bits>(p, b[t]);
    }
    for (int g = 0; g < NG; ++g)
      for (int v = 0; v < kPer; ++v) {
        const __m512i x = _mm512_set1_epi32(quads[g * quads_per_head + l * kPer + v]);
        for (int t = 0; t < NT; ++t) acc[t][g] = _mm512_dpbusd_epi32(acc[t][g], b[t][v], x);
      }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) {
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(qscales[g]), _mm512_cvtepi32_ps(acc[t][g]));
      best[t] = _mm512_max_ps(s, best[t]);  // s > best ? s : best, as the reference
    }
}

template <int Bits, int NT>
SPARSENN_LABEL_VNNI_TARGET inline void label_vnni_all_heads(const int32_t* quads, const int32_t* bias_sums, const float* qscales,
                                                            int64_t groups, const int8_t* tile, int64_t r, __m512* best) {
  for (int64_t g0 = 0; g0 < groups; g0 += 4) {
    const int32_t* qg = quads + g0 * (r / 4);
    const int32_t* bg = bias_sums + g0;
    switch (std::min<int64_t>(4, groups - g0)) {
      case 1: label_vnni_tiles<Bits, 1, NT>(qg, bg, qscales + g0, tile, r, best); break;
      case 2: label_vnni_tiles<Bits, 2, NT>(qg, bg, qscales + g0, tile, r, best); break;
      case 3: label_vnni_tiles<Bits, 3, NT>(qg, bg, qscales + g0, tile, r, best); break;
      default: label_vnni_tiles<Bits, 4, NT>(qg, bg, qscales + g0, tile, r, best); break;
    }
  }
}

// Any r: tiles [0, tiles) a pair at a time, then the odd one.
template <int Bits>
SPARSENN_LABEL_VNNI_TARGET void label_vnni_rows(const int32_t* quads, const int32_t* bias_sums, const float* qscales, int64_t groups,
                                                const int8_t* tiles_data, const float* scales, int64_t r, int64_t tiles, float* out) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t tile_bytes = r * Bits * 2;
  constexpr int64_t kStep = 2;
  int64_t i = 0;
  for (; i + kStep <= tiles; i += kStep) {
    __m512 best[kStep] = {neg_inf, neg_inf};
    label_vnni_all_heads<Bits, kStep>(quads, bias_sums, qscales, groups, tiles_data + i * tile_bytes, r, best);
    for (int64_t t = 0; t < kStep; ++t)
      _mm512_storeu_ps(out + 16 * (i + t), _mm512_mul_ps(best[t], _mm512_loadu_ps(scales + 16 * (i + t))));
  }
  for (; i < tiles; ++i) {
    __m512 best = neg_inf;
    label_vnni_all_heads<Bits, 1>(quads, bias_sums, qscales, groups, tiles_data + i * tile_bytes, r, &best);
    _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(best, _mm512_loadu_ps(scales + 16 * i)));
  }
}

// Tiles of Loads 64-byte loads each (a compile-time r), the query heads NG at a time with their
// codes broadcast once into registers and kept there over a chunk of tiles small enough to stay in
// L1 for the next NG (one chunk holds every head at GQA groups of up to NG). The running max sits in
// out between the blocks of heads (the same order of maxes as the reference); the last block
// scales it.
template <int Bits, int Loads, int NG>
SPARSENN_LABEL_VNNI_TARGET void label_vnni_block(const int32_t* quads, const int32_t* bias_sums, const float* qscales, bool first,
                                                 bool last, const int8_t* tiles_data, const float* scales, int64_t tiles, float* out) {
  constexpr int kPer = kVectorsPerLoad<Bits>, kQuads = Loads * kPer;
  constexpr int64_t kTileBytes = Loads * 64;
  __m512i x[NG][kQuads], start[NG];
  __m512 unit[NG];
  for (int g = 0; g < NG; ++g) {
    for (int q = 0; q < kQuads; ++q) x[g][q] = _mm512_set1_epi32(quads[g * kQuads + q]);
    start[g] = _mm512_set1_epi32(-bias_sums[g]);
    unit[g] = _mm512_set1_ps(qscales[g]);
  }
  for (int64_t i = 0; i < tiles; ++i) {
    const int8_t* tile = tiles_data + i * kTileBytes;
    __m512i acc[NG];
    for (int g = 0; g < NG; ++g) acc[g] = start[g];
    for (int l = 0; l < Loads; ++l) {
      _mm_prefetch(reinterpret_cast<const char*>(tile + l * 64) + kPrefetchBytes, _MM_HINT_T0);
      __m512i b[kPer];
      load_quads<Bits>(tile + l * 64, b);
      for (int g = 0; g < NG; ++g)
        for (int v = 0; v < kPer; ++v) acc[g] = _mm512_dpbusd_epi32(acc[g], b[v], x[g][l * kPer + v]);
    }
    __m512 best = first ? _mm512_set1_ps(-std::numeric_limits<float>::infinity()) : _mm512_loadu_ps(out + 16 * i);
    for (int g = 0; g < NG; ++g) best = _mm512_max_ps(_mm512_mul_ps(unit[g], _mm512_cvtepi32_ps(acc[g])), best);
    if (last) best = _mm512_mul_ps(best, _mm512_loadu_ps(scales + 16 * i));
    _mm512_storeu_ps(out + 16 * i, best);
  }
}

template <int Bits, int Loads>
SPARSENN_LABEL_VNNI_TARGET void label_vnni_rows_fixed(const int32_t* quads, const int32_t* bias_sums, const float* qscales,
                                                      int64_t groups, const int8_t* tiles_data, const float* scales, int64_t tiles,
                                                      float* out) {
  constexpr int64_t kTileBytes = Loads * 64, kChunk = 64;  // 64 tiles: 8 KiB of 4-bit labels at r = 16
  constexpr int kQuads = Loads * kVectorsPerLoad<Bits>;
  for (int64_t i = 0; i < tiles; i += kChunk) {
    const int64_t n = std::min(kChunk, tiles - i);
    const int8_t* chunk = tiles_data + i * kTileBytes;
    for (int64_t g0 = 0; g0 < groups; g0 += 4) {
      const int32_t* qg = quads + g0 * kQuads;
      const bool first = g0 == 0, last = g0 + 4 >= groups;
      const float* s = scales + 16 * i;
      float* o = out + 16 * i;
      switch (std::min<int64_t>(4, groups - g0)) {
        case 1: label_vnni_block<Bits, Loads, 1>(qg, bias_sums + g0, qscales + g0, first, last, chunk, s, n, o); break;
        case 2: label_vnni_block<Bits, Loads, 2>(qg, bias_sums + g0, qscales + g0, first, last, chunk, s, n, o); break;
        case 3: label_vnni_block<Bits, Loads, 3>(qg, bias_sums + g0, qscales + g0, first, last, chunk, s, n, o); break;
        default: label_vnni_block<Bits, Loads, 4>(qg, bias_sums + g0, qscales + g0, first, last, chunk, s, n, o); break;
      }
    }
  }
}

// Every head's codes a quad of channels at a time in load order and its bias sum, then the tiles
// two at a time.
template <int Bits>
SPARSENN_LABEL_VNNI_TARGET void label_scores(const int8_t* q, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                             const float* scales, int64_t r, int64_t tiles, float* out) {
  thread_local std::vector<int32_t> quad_buffer, bias_buffer;
  std::vector<int32_t>& quads = quad_buffer;
  std::vector<int32_t>& bias_sums = bias_buffer;
  const int64_t per_head = r / 4;
  quads.resize(size_t(groups * per_head));
  bias_sums.resize(size_t(groups));
  for (int64_t g = 0; g < groups; ++g) {
    int32_t sum = 0;
    for (int64_t c = 0; c < r; ++c) sum += q[g * r + c];
    bias_sums[size_t(g)] = kBias<Bits> * sum;
    for (int64_t k = 0; k < per_head; ++k) {
      uint32_t codes = 0;
      for (int j = 0; j < 4; ++j) codes |= uint32_t(uint8_t(q[g * r + quad_channel<Bits>(k, j)])) << (8 * j);
      quads[size_t(g * per_head + k)] = int32_t(codes);
    }
  }
  // The paper's r = headDim/8 at head dim 128 (16 channels: two loads a tile at 4 bits, four at 8)
  // and at head dim 64 (8 channels) keep the query codes in registers; other widths loop over them.
  const int64_t loads = r / 4 / kVectorsPerLoad<Bits>;
  const int32_t* qd = quads.data();
  const int32_t* bd = bias_sums.data();
  if (loads == 1) return label_vnni_rows_fixed<Bits, 1>(qd, bd, qscales, groups, tiles_data, scales, tiles, out);
  if (loads == 2) return label_vnni_rows_fixed<Bits, 2>(qd, bd, qscales, groups, tiles_data, scales, tiles, out);
  label_vnni_rows<Bits>(qd, bd, qscales, groups, tiles_data, scales, r, tiles, out);
}

}  // namespace

SPARSENN_LABEL_VNNI_TARGET void label_int_scores(const int8_t* q, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                                 const float* scales, int64_t r, int64_t tiles, float* out) {
  label_scores<8>(q, qscales, groups, tiles_data, scales, r, tiles, out);
}

SPARSENN_LABEL_VNNI_TARGET void label4_int_scores(const int8_t* q, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                                  const float* scales, int64_t r, int64_t tiles, float* out) {
  label_scores<4>(q, qscales, groups, tiles_data, scales, r, tiles, out);
}

#else
void label_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*) {}
void label4_int_scores(const int8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*) {}
#endif

}  // namespace avx512
}  // namespace sparsenn
#endif
