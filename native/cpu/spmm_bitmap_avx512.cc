// Bitmap kernels, AVX-512 variant. Per 16-column group and row: load 16 packed
// values at the row's cursor (unaligned; bf16/f16 widened in-register), spread
// them over the mask's lanes with the register form of vexpandps, FMA with the 16
// contiguous inputs, and advance the cursor by popcount(mask). No gather: x is
// read densely from L1. Several rows run interleaved, so independent cursors keep
// the expand and FMA units busy, and one load of x serves all of them; each expanded
// vector serves up to 8 rows of X (prefill makes one pass over W per 8 rows of X).
//
// Measured on this Zen 4 (single thread, 4096 x 4096 at 90%, min of 40 runs): ~1.1 ns
// per row and group. Alternatives tried: the memory form of vexpandps (GCC folds
// the load into it unless stopped) and vpermps with 8-bit-mask index tables were
// slower (~1.6 ns); accumulators indexed by a loop GCC did not unroll were ~2x slower.
// bf16/f16 values are widened before the expand: vpexpandw (AVX512_VBMI2) places 32
// 16-bit values at once, but measured ~1.0 ns per 16 columns either way here (it costs
// about two vexpandps), so there is no separate VBMI2 path.
//
// Safety without a separate pass over the masks: a row's cursor is clamped to the
// end of the rows being computed before each load, and the row is accepted only if its cursor lands
// exactly on its end (popcounts match the offsets) and its last mask keeps no
// column >= K. The 16-wide loads read up to 15 values past the row's end, so rows
// ending within 16 values of the end of the whole array take the scalar path.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#define SPARSENN_VARIANT avx512
#define SPARSENN_BITMAP_OWN_ROWS 1
#include "spmm_bitmap_generic.inc"

#include "simd_widen.h"

namespace sparsenn {
namespace avx512 {

namespace {

// R rows n0.. (each ending >= 16 values before the end of the array) for MR rows of X.
// Returns false when some row's masks do not match its offsets (its y is then garbage).
template <DType DT, int R, int MR>
bool simd_rows(const BitmapView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t n0) {
  const int64_t G = w.groups;
  const int64_t full = w.cols / kBitmapGroup;
  const uint32_t outside = tail_outside(w.cols);
  const uint16_t* masks = w.masks + n0 * G;  // row r's mask g is masks[r * G + g]
  // One bound for all R cursors (fewer live registers than one per row): loads at a cursor
  // clamped to it stay inside the values, and the exact per-row check comes at the end.
  const int64_t bound = w.row_ptr[n0 + R];
  int64_t cur[R];
  __m512 acc[R][MR];
  bool ok = true;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    cur[r] = w.row_ptr[n0 + r];
    if (G > 0 && (masks[r * G + G - 1] & outside) != 0) ok = false;
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_setzero_ps();
  }
  // Software prefetch: each row's values kPrefetchValues ahead of its cursor, and the next
  // rows' masks, one line every 4 groups. Rows are short streams (1.6 KiB of values per
  // 4096-column row at 90%) that the hardware prefetcher picks up late.
  constexpr int64_t kPrefetchValues = DT == DType::F32 ? 256 : 512;
  const char* next_masks = reinterpret_cast<const char*>(w.masks + (n0 + R) * G);
  const auto step = [&](int64_t g, const __m512* xv) {
    if ((g & 3) == 0) _mm_prefetch(next_masks + g * 16, _MM_HINT_T0);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint32_t mask = masks[r * G + g];
      const int64_t j = std::min(cur[r], bound);  // in bounds even when the masks over-claim
      _mm_prefetch(static_cast<const char*>(w.values) + (j + kPrefetchValues) * dtype_size(DT), _MM_HINT_T0);
      __m512 packed = widen16<DT>(w.values, j);
      // Keep the load a separate instruction: GCC would otherwise fold it into the memory
      // form of vexpandps, which is microcoded on Zen 4.
      asm("" : "+v"(packed));
      const __m512 v = _mm512_maskz_expand_ps(__mmask16(mask), packed);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_fmadd_ps(v, xv[m], acc[r][m]);
      cur[r] += _mm_popcnt_u32(mask);
    }
  };
  for (int64_t g = 0; g < full; ++g) {
    __m512 xv[MR];
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) xv[m] = _mm512_loadu_ps(x + m * ldx + g * kBitmapGroup);
    step(g, xv);
  }
  if (full < G) {
    // Last, partial group: x past K is not read (those mask bits were checked zero).
    const __mmask16 in = __mmask16((1u << (w.cols - full * kBitmapGroup)) - 1u);
    __m512 xv[MR];
    for (int m = 0; m < MR; ++m) xv[m] = _mm512_maskz_loadu_ps(in, x + m * ldx + full * kBitmapGroup);
    step(full, xv);
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if (cur[r] != int64_t(w.row_ptr[n0 + r + 1])) ok = false;
    for (int m = 0; m < MR; ++m) y[m * ldy + n0 + r] = _mm512_reduce_add_ps(acc[r][m]);
  }
  return ok;
}

template <DType DT, int MR>
bool rows_for(const BitmapView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t nb, int64_t ne) {
  // Rows interleaved: 4 while the accumulators (R·MR) and x vectors (MR) leave registers free.
  constexpr int R = MR <= 2 ? 4 : 2;
  static_assert(R * MR + MR <= 24, "accumulators and x vectors must fit the 32 zmm registers");
  bool ok = true;
  int64_t n = nb;
  // Rows whose 16-wide loads stay inside the values: row_ptr[n + 1] + 16 <= nnz.
  const auto simd_safe = [&](int64_t last) { return int64_t(w.row_ptr[last + 1]) + kBitmapGroup <= w.nnz; };
  for (; n + R <= ne && simd_safe(n + R - 1); n += R) ok &= simd_rows<DT, R, MR>(w, x, ldx, y, ldy, n);
  for (; n < ne; ++n) {
    if (simd_safe(n)) {
      ok &= simd_rows<DT, 1, MR>(w, x, ldx, y, ldy, n);
    } else if (row_consistent(w, n)) {
      scalar_row<DT>(w, x, ldx, MR, y, ldy, n);
    } else {
      ok = false;
    }
  }
  return ok;
}

template <DType DT>
bool rows_dispatch(const BitmapView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb,
                   int64_t ne) {
  switch (mr) {
    case 1: return rows_for<DT, 1>(w, x, ldx, y, ldy, nb, ne);
    case 2: return rows_for<DT, 2>(w, x, ldx, y, ldy, nb, ne);
    case 3: return rows_for<DT, 3>(w, x, ldx, y, ldy, nb, ne);
    case 4: return rows_for<DT, 4>(w, x, ldx, y, ldy, nb, ne);
    case 5: return rows_for<DT, 5>(w, x, ldx, y, ldy, nb, ne);
    case 6: return rows_for<DT, 6>(w, x, ldx, y, ldy, nb, ne);
    case 7: return rows_for<DT, 7>(w, x, ldx, y, ldy, nb, ne);
    default: return rows_for<DT, 8>(w, x, ldx, y, ldy, nb, ne);
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

}  // namespace avx512
}  // namespace sparsenn
#endif
