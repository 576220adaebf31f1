// The selection kernels, AVX-512 variant: one zmm lane per row (page) of a 16-row tile, so a tile's
// scores need no horizontal sums. Quest's integer page scores (quest_int_scores) use VNNI + VBMI
// where the CPU has them, else the plain loops at this width (quest_int_scores_f32).
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "attention_select_kernels.h"

namespace sparsenn {
namespace avx512 {

// The plain-loop Quest scores (head dims past 512 on CPUs without VNNI or VBMI).
#include "attention_select_quest.inc"

namespace {

// 16 lanes of one tile channel (int8 codes) as f32.
inline __m512 widen(const int8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

}  // namespace

namespace {

// Quest without VNNI: the query codes as signed floats (+u⁺ where q_d > 0, −u⁻ where q_d < 0), whose
// products with the int8 bounds and their sums are integers below 2^24 for D <= 512, so f32 FMAs
// give the exact integer sums. The dims of a chunk of up to 4 heads are grouped by sign pattern, so
// each head reads hi or lo per dim without a branch: D multiply-adds per head instead of 2D.
constexpr int64_t kQuestPrefetchSteps = 4;

// The dims of one sign pattern P of an NG-head chunk: head g reads hi_d when bit g of P is set.
template <int NG, int P, int NT>
inline void quest_run(const float* q, int64_t D, const int32_t* dims, int64_t count, const int8_t* tile, int64_t tile_elems,
                      __m512 (&acc)[NT][NG]) {
  constexpr bool any_hi = P != 0, any_lo = P != (1 << NG) - 1;
  for (int64_t i = 0; i < count; ++i) {
    const int64_t d = dims[i];
    __m512 hi[NT], lo[NT];
    for (int t = 0; t < NT; ++t) {
      hi[t] = any_hi ? widen(tile + t * tile_elems + d * 16) : _mm512_setzero_ps();
      lo[t] = any_lo ? widen(tile + t * tile_elems + (D + d) * 16) : _mm512_setzero_ps();
    }
    for (int g = 0; g < NG; ++g) {
      const __m512 x = _mm512_set1_ps(q[g * D + d]);
      for (int t = 0; t < NT; ++t) acc[t][g] = _mm512_fmadd_ps(x, ((P >> g) & 1) ? hi[t] : lo[t], acc[t][g]);
    }
  }
}

template <int NG, int NT>
inline void quest_chunk(const float* q, const float* units, int64_t D, const int32_t* plan, const int8_t* tile,
                        int64_t tile_elems, __m512* best) {
  __m512 acc[NT][NG];
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) acc[t][g] = _mm512_setzero_ps();
  const int32_t* runs = plan;
  const int32_t* order = plan + 17;
  for (int p = 0; p < (1 << NG); ++p) {
    const int32_t* dims = order + runs[p];
    const int64_t count = runs[p + 1] - runs[p];
    if (count == 0) continue;
    switch (p) {
#define SPARSENN_QUEST_RUN(P) \
  case P:                      \
    if constexpr (P < (1 << NG)) quest_run<NG, P, NT>(q, D, dims, count, tile, tile_elems, acc); \
    break;
      SPARSENN_QUEST_RUN(0) SPARSENN_QUEST_RUN(1) SPARSENN_QUEST_RUN(2) SPARSENN_QUEST_RUN(3)
      SPARSENN_QUEST_RUN(4) SPARSENN_QUEST_RUN(5) SPARSENN_QUEST_RUN(6) SPARSENN_QUEST_RUN(7)
      SPARSENN_QUEST_RUN(8) SPARSENN_QUEST_RUN(9) SPARSENN_QUEST_RUN(10) SPARSENN_QUEST_RUN(11)
      SPARSENN_QUEST_RUN(12) SPARSENN_QUEST_RUN(13) SPARSENN_QUEST_RUN(14) SPARSENN_QUEST_RUN(15)
#undef SPARSENN_QUEST_RUN
      default: break;
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) {
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(units[g]), acc[t][g]);
      best[t] = _mm512_max_ps(s, best[t]);  // s > best ? s : best, as the reference
    }
}

template <int NT>
inline void quest_all_chunks(const float* q, const float* units, int64_t groups, const int32_t* plan, int64_t D,
                             const int8_t* tile, int64_t tile_elems, __m512* best) {
  // The rows are read in a permuted channel order, which the hardware prefetchers do not follow.
  const char* ahead = reinterpret_cast<const char*>(tile) + kQuestPrefetchSteps * NT * tile_elems;
  for (int64_t b = 0; b < NT * tile_elems; b += 64) _mm_prefetch(ahead + b, _MM_HINT_T1);
  for (int64_t g0 = 0, c = 0; g0 < groups; g0 += 4, ++c) {
    const float* qc = q + g0 * D;
    const int32_t* pc = plan + c * (17 + D);
    switch (std::min<int64_t>(4, groups - g0)) {
      case 1: quest_chunk<1, NT>(qc, units + g0, D, pc, tile, tile_elems, best); break;
      case 2: quest_chunk<2, NT>(qc, units + g0, D, pc, tile, tile_elems, best); break;
      case 3: quest_chunk<3, NT>(qc, units + g0, D, pc, tile, tile_elems, best); break;
      default: quest_chunk<4, NT>(qc, units + g0, D, pc, tile, tile_elems, best); break;
    }
  }
}

}  // namespace

void quest_int_scores_f32(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data, const float* scales,
                          int64_t D, int64_t tiles, float* out) {
  if (D > kExactFloatDim) {
    quest_int_scores_generic(u, qscales, groups, tiles_data, scales, D, tiles, out);
    return;
  }
  const int64_t chunks = (groups + 3) / 4, plan_len = 17 + D;
  thread_local std::vector<float> signed_codes;
  thread_local std::vector<int32_t> plans;
  std::vector<float>& q = signed_codes;
  std::vector<int32_t>& pl = plans;
  q.resize(size_t(groups * D));
  pl.resize(size_t(chunks * plan_len));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t d = 0; d < D; ++d) {
      const uint8_t up = u[g * 2 * D + d], down = u[g * 2 * D + D + d];
      q[size_t(g * D + d)] = up ? float(up) : -float(down);
    }
  // Per chunk of up to 4 heads, the dims grouped by sign pattern (a counting sort).
  for (int64_t c = 0; c < chunks; ++c) {
    int32_t* runs = pl.data() + c * plan_len;
    int32_t* order = runs + 17;
    const int64_t g0 = 4 * c, ng = std::min<int64_t>(4, groups - g0);
    auto pattern = [&](int64_t d) {
      int p = 0;
      for (int64_t g = 0; g < ng; ++g) p |= int(q[size_t((g0 + g) * D + d)] > 0) << g;
      return p;
    };
    std::fill(runs, runs + 17, 0);
    for (int64_t d = 0; d < D; ++d) ++runs[pattern(d) + 1];
    for (int p = 0; p < 16; ++p) runs[p + 1] += runs[p];
    int32_t fill[16];
    std::copy(runs, runs + 16, fill);
    for (int64_t d = 0; d < D; ++d) order[fill[pattern(d)]++] = int32_t(d);
  }
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t tile_elems = 2 * D * 16;
  int64_t i = 0;
  for (; i + 2 <= tiles; i += 2) {
    __m512 best[2] = {neg_inf, neg_inf};
    quest_all_chunks<2>(q.data(), qscales, groups, pl.data(), D, tiles_data + i * tile_elems, tile_elems, best);
    for (int64_t t = 0; t < 2; ++t)
      _mm512_storeu_ps(out + 16 * (i + t), _mm512_mul_ps(best[t], _mm512_loadu_ps(scales + 16 * (i + t))));
  }
  for (; i < tiles; ++i) {
    __m512 best = neg_inf;
    quest_all_chunks<1>(q.data(), qscales, groups, pl.data(), D, tiles_data + i * tile_elems, tile_elems, &best);
    _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(best, _mm512_loadu_ps(scales + 16 * i)));
  }
}

#if defined(__GNUC__) || defined(__clang__)
#define SPARSENN_QUEST_VNNI 1
// The addon's AVX-512 flags stop at F/BW/VL/DQ; these functions alone use VNNI and VBMI, and run
// only where cpu_has_avx512_vnni_vbmi() (isa.h; checked once, by the dispatcher).
#define SPARSENN_VNNI_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))
#else
#define SPARSENN_QUEST_VNNI 0
#endif

#if SPARSENN_QUEST_VNNI
namespace {

// NG query heads against NT consecutive tiles. A tile holds channel c of its 16 pages at bytes
// [16c, 16c + 16), so a 64-byte load is 4 channels x 16 pages; vpermb regroups it as 16 dwords of
// one page's 4 channels, and one vpdpbusd adds u8 query codes x s8 bounds for 4 channels of all 16
// pages. The hi half accumulates, the sum is negated, the lo half accumulates, and the result is
// negated back: Σ u⁺·hi − Σ u⁻·lo with one accumulator per (tile, head). With `ahead`, each
// 64-byte load also prefetches the same bytes of the tiles there into L2.
template <int NG, int NT>
SPARSENN_VNNI_TARGET inline void quest_vnni_tiles(const uint8_t* u, const float* qscales, const int8_t* tile, int64_t D,
                                                  __m512* best, const int8_t* ahead) {
  const int64_t tile_bytes = 2 * D * 16;
  const __m512i regroup = _mm512_set_epi8(63, 47, 31, 15, 62, 46, 30, 14, 61, 45, 29, 13, 60, 44, 28, 12,  //
                                          59, 43, 27, 11, 58, 42, 26, 10, 57, 41, 25, 9, 56, 40, 24, 8,    //
                                          55, 39, 23, 7, 54, 38, 22, 6, 53, 37, 21, 5, 52, 36, 20, 4,      //
                                          51, 35, 19, 3, 50, 34, 18, 2, 49, 33, 17, 1, 48, 32, 16, 0);
  __m512i acc[NT][NG];
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) acc[t][g] = _mm512_setzero_si512();
  for (int part = 0; part < 2; ++part) {  // hi channels, then lo
    if (part == 1)
      for (int t = 0; t < NT; ++t)
        for (int g = 0; g < NG; ++g) acc[t][g] = _mm512_sub_epi32(_mm512_setzero_si512(), acc[t][g]);
    for (int64_t c4 = part * D / 4; c4 < (part + 1) * D / 4; ++c4) {
      __m512i b[NT];
      if (ahead)
        for (int t = 0; t < NT; ++t) _mm_prefetch(reinterpret_cast<const char*>(ahead + t * tile_bytes + c4 * 64), _MM_HINT_T1);
      for (int t = 0; t < NT; ++t)
        b[t] = _mm512_permutexvar_epi8(regroup, _mm512_loadu_si512(tile + t * tile_bytes + c4 * 64));
      for (int g = 0; g < NG; ++g) {
        int32_t four;
        std::memcpy(&four, u + g * 2 * D + 4 * c4, 4);
        const __m512i x = _mm512_set1_epi32(four);
        for (int t = 0; t < NT; ++t) acc[t][g] = _mm512_dpbusd_epi32(acc[t][g], x, b[t]);
      }
    }
  }
  for (int t = 0; t < NT; ++t)
    for (int g = 0; g < NG; ++g) {
      const __m512i sum = _mm512_sub_epi32(_mm512_setzero_si512(), acc[t][g]);
      const __m512 s = _mm512_mul_ps(_mm512_set1_ps(qscales[g]), _mm512_cvtepi32_ps(sum));
      best[t] = _mm512_max_ps(s, best[t]);  // s > best ? s : best, as the reference
    }
}

// The first group of heads prefetches `ahead` (quest_vnni_tiles); the others read the same tiles.
template <int NT>
SPARSENN_VNNI_TARGET inline void quest_vnni_all_heads(const uint8_t* u, const float* qscales, int64_t groups,
                                                      const int8_t* tile, int64_t D, __m512* best, const int8_t* ahead) {
  for (int64_t g0 = 0; g0 < groups; g0 += 4) {
    const uint8_t* ug = u + g0 * 2 * D;
    const int8_t* pf = g0 == 0 ? ahead : nullptr;
    switch (std::min<int64_t>(4, groups - g0)) {
      case 1: quest_vnni_tiles<1, NT>(ug, qscales + g0, tile, D, best, pf); break;
      case 2: quest_vnni_tiles<2, NT>(ug, qscales + g0, tile, D, best, pf); break;
      case 3: quest_vnni_tiles<3, NT>(ug, qscales + g0, tile, D, best, pf); break;
      default: quest_vnni_tiles<4, NT>(ug, qscales + g0, tile, D, best, pf); break;
    }
  }
}

}  // namespace

SPARSENN_VNNI_TARGET void quest_int_scores(const uint8_t* u, const float* qscales, int64_t groups, const int8_t* tiles_data,
                                           const float* scales, int64_t D, int64_t tiles, float* out) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t tile_bytes = 2 * D * 16;
  constexpr int64_t kStep = 2;
  constexpr int64_t kQuestPrefetchPasses = 4;
  int64_t i = 0;
  for (; i + kStep <= tiles; i += kStep) {
    // Ask for the tiles kQuestPrefetchPasses passes ahead, into L2: on a loaded machine the hardware
    // prefetcher alone left a third of the time waiting on memory (one thread, 32K: ~0.45 -> ~0.33 ms).
    // A line per load through the pass, not a burst before it, keeps misses in flight while the
    // VNNI work runs. Quest's fused step at 32K, 2 threads, caches evicted, against the burst (both
    // builds loaded in one process, alternating): median per-pair speedup 4.0%, 3.9%, 7.0% in three
    // runs of 150 pairs, faster in 69-73% of pairs.
    const int64_t ahead_tile = i + kQuestPrefetchPasses * kStep;
    const int8_t* ahead = ahead_tile + kStep <= tiles ? tiles_data + ahead_tile * tile_bytes : nullptr;
    __m512 best[kStep] = {neg_inf, neg_inf};
    quest_vnni_all_heads<kStep>(u, qscales, groups, tiles_data + i * tile_bytes, D, best, ahead);
    for (int64_t t = 0; t < kStep; ++t)
      _mm512_storeu_ps(out + 16 * (i + t), _mm512_mul_ps(best[t], _mm512_loadu_ps(scales + 16 * (i + t))));
  }
  for (; i < tiles; ++i) {
    __m512 best = neg_inf;
    quest_vnni_all_heads<1>(u, qscales, groups, tiles_data + i * tile_bytes, D, &best, nullptr);
    _mm512_storeu_ps(out + 16 * i, _mm512_mul_ps(best, _mm512_loadu_ps(scales + 16 * i)));
  }
}

#else
void quest_int_scores(const uint8_t*, const float*, int64_t, const int8_t*, const float*, int64_t, int64_t, float*) {}
#endif

}  // namespace avx512
}  // namespace sparsenn
#endif
