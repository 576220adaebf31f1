// Bitmap kernels, AVX2 variant. AVX2 has no expand instruction, so each 16-bit
// mask is taken as two 8-bit halves: 8 packed values are loaded at the half's
// offset and moved to their lanes with vpermps, using a 256-entry table of lane
// permutations (lane i takes value popcount(mask bits below i)) whose sign bits
// also say which lanes to keep (vblendvps with zero). Groups go four at a time, as
// in the AVX-512 kernel: the row's four masks are one u64 and prefix popcounts give
// every half-group's offset, so the loads do not wait on one another. Two rows run
// interleaved, sharing each load of x. Measured (C++ harness over the kernels,
// 4096 x 4096 at 70% f32, M = 1, one thread): 3.0 ms before (cursor advanced per
// half-group, lanes zeroed with broadcast/and/compare/and) -> 2.25 ms.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#define SPARSENN_VARIANT avx2
#define SPARSENN_BITMAP_OWN_ROWS 1
#include "spmm_bitmap_generic.inc"

#include "simd_widen.h"

namespace sparsenn {
namespace avx2 {

namespace {

// Values of a row prefetched ahead of its cursor, once per quad of groups.
template <DType DT>
constexpr int64_t kPrefetchValues = DT == DType::F32 ? 256 : 512;

// The 8 values at j placed on the lanes of the 8-bit mask, other lanes zero.
template <DType DT>
inline __m256 expand8(const void* v, int64_t j, uint32_t mask8) {
  const __m256i idx = _mm256_load_si256(reinterpret_cast<const __m256i*>(kExpand.perm[mask8]));
  const __m256 placed = _mm256_permutevar8x32_ps(widen8<DT>(v, j), idx);
  return _mm256_blendv_ps(_mm256_setzero_ps(), placed, _mm256_castsi256_ps(idx));
}

// R rows n0.. (checked, ending >= 16 values before the end of the array) for MR rows of X.
// Only whole groups of 16 columns; the caller finishes a partial last group.
template <DType DT, int R, int MR>
void simd_rows(const BitmapView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t n0) {
  const int64_t G = w.groups;
  const int64_t full = w.cols / kBitmapGroup;
  const int64_t quad_end = full / 4 * 4;
  const uint16_t* mk[R];
  int64_t cur[R];
  __m256 acc[R][MR];
  for (int r = 0; r < R; ++r) {
    mk[r] = w.masks + (n0 + r) * G;
    cur[r] = w.row_ptr[n0 + r];
    for (int m = 0; m < MR; ++m) acc[r][m] = _mm256_setzero_ps();
  }
  // One group: 8 values at off, 8 at off2, placed by the mask's two halves.
  const auto group = [&](int r, int64_t g, uint32_t mask, int64_t off, int64_t off2) {
    const __m256 vlo = expand8<DT>(w.values, off, mask & 0xffu);
    const __m256 vhi = expand8<DT>(w.values, off2, mask >> 8);
#pragma GCC unroll 4
    for (int m = 0; m < MR; ++m) {
      acc[r][m] = _mm256_fmadd_ps(vlo, _mm256_loadu_ps(x + m * ldx + g * kBitmapGroup), acc[r][m]);
      acc[r][m] = _mm256_fmadd_ps(vhi, _mm256_loadu_ps(x + m * ldx + g * kBitmapGroup + 8), acc[r][m]);
    }
  };
  // Four groups at a time, as in the AVX-512 kernel: the row's four masks are one u64, and
  // prefix popcounts give each half-group's offset from the quad's cursor, so the loads do
  // not wait on one another; the cursor moves once per quad.
  const NextBlockPrefetch next(w, n0 + R, n0 + 2 * R, quad_end / 4);
  for (int64_t g = 0; g < quad_end; g += 4) {
    next.at(g / 4);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      uint64_t m;
      std::memcpy(&m, mk[r] + g, sizeof(m));
      const int64_t j = cur[r];
      _mm_prefetch(static_cast<const char*>(w.values) + (j + kPrefetchValues<DT>) * dtype_size(DT), _MM_HINT_T0);
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        const uint64_t below = q == 0 ? 0 : _mm_popcnt_u64(m & ((1ull << (16 * q)) - 1));
        const uint64_t below_hi = _mm_popcnt_u64(m & ((1ull << (16 * q + 8)) - 1));
        group(r, g + q, uint32_t(m >> (16 * q)) & 0xffffu, j + int64_t(below), j + int64_t(below_hi));
      }
      cur[r] += _mm_popcnt_u64(m);
    }
  }
  for (int64_t g = quad_end; g < full; ++g) {
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const uint32_t mask = mk[r][g];
      group(r, g, mask, cur[r], cur[r] + _mm_popcnt_u32(mask & 0xffu));
      cur[r] += _mm_popcnt_u32(mask);
    }
  }
  for (int r = 0; r < R; ++r) {
    float tail[MR] = {};
    if (full < G) {
      // Partial last group: scalar, so x is never read past K.
      uint32_t mask = mk[r][full];
      int64_t j = cur[r];
      while (mask != 0) {
        const int64_t k = full * kBitmapGroup + __builtin_ctz(mask);
        mask &= mask - 1;
        const float v = element_f32<DT>(w.values, j++);
        for (int m = 0; m < MR; ++m) tail[m] += v * x[m * ldx + k];
      }
    }
    for (int m = 0; m < MR; ++m) {
      const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(acc[r][m]), _mm256_extractf128_ps(acc[r][m], 1));
      const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
      const __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
      y[m * ldy + n0 + r] = _mm_cvtss_f32(s1) + tail[m];
    }
  }
}

template <DType DT, int MR>
bool rows_for(const BitmapView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t nb, int64_t ne) {
  constexpr int R = 2;
  bool ok = true;
  int64_t n = nb;
  const auto simd_safe = [&](int64_t last) { return int64_t(w.row_ptr[last + 1]) + kBitmapGroup <= w.nnz; };
  for (; n + R <= ne && simd_safe(n + R - 1); n += R) {
    bool all = true;
    for (int r = 0; r < R; ++r) all &= row_consistent(w, n + r);
    if (all) {
      simd_rows<DT, R, MR>(w, x, ldx, y, ldy, n);
      continue;
    }
    ok = false;
    for (int r = 0; r < R; ++r)
      if (row_consistent(w, n + r)) simd_rows<DT, 1, MR>(w, x, ldx, y, ldy, n + r);
  }
  for (; n < ne; ++n) {
    if (!row_consistent(w, n)) { ok = false; continue; }
    if (simd_safe(n)) simd_rows<DT, 1, MR>(w, x, ldx, y, ldy, n);
    else scalar_row<DT>(w, x, ldx, MR, y, ldy, n);
  }
  return ok;
}

template <DType DT>
bool rows_dispatch(const BitmapView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb,
                   int64_t ne) {
  // At most 4 rows of X per pass: 16 ymm registers hold R·MR accumulators and 2·MR x halves.
  if (mr > 4) {
    const bool first = rows_dispatch<DT>(w, x, ldx, 4, y, ldy, nb, ne);
    return rows_dispatch<DT>(w, x + 4 * ldx, ldx, mr - 4, y + 4 * ldy, ldy, nb, ne) && first;
  }
  switch (mr) {
    case 1: return rows_for<DT, 1>(w, x, ldx, y, ldy, nb, ne);
    case 2: return rows_for<DT, 2>(w, x, ldx, y, ldy, nb, ne);
    case 3: return rows_for<DT, 3>(w, x, ldx, y, ldy, nb, ne);
    default: return rows_for<DT, 4>(w, x, ldx, y, ldy, nb, ne);
  }
}

}  // namespace

bool bitmap_rows(const BitmapView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb,
                 int64_t ne) {
  switch (w.dtype) {
    case DType::F32: return rows_dispatch<DType::F32>(w, x, ldx, mr, y, ldy, nb, ne);
    case DType::BF16: return rows_dispatch<DType::BF16>(w, x, ldx, mr, y, ldy, nb, ne);
    default: return rows_dispatch<DType::F16>(w, x, ldx, mr, y, ldy, nb, ne);
  }
}

}  // namespace avx2
}  // namespace sparsenn
#endif
