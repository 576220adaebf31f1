// Bitmap kernels, AVX-512 variant. Per 16-column group and row: load 16 packed
// values at the group's offset (unaligned; bf16/f16 widened in-register), spread
// them over the mask's lanes with the register form of vexpandps, FMA with the 16
// contiguous inputs. No gather: x is read densely from L1. Groups go four at a time:
// a row's four masks are one u64 and prefix popcounts give each group's offset from
// the quad's cursor, so the four loads are independent and the cursor moves once per
// quad. Four rows run interleaved; each expanded vector serves up to 8 rows of X
// (prefill makes one pass over W per 8 rows of X).
//
// Where the time went (standalone harness /tmp/h19, 4096 x 4096 at 70% f32, M = 1,
// 22 MB of bitmap, two threads, medians of 41 interleaved rounds on a shared 2-core
// Zen 4 VM, so +-10%): the previous kernel, which advanced the cursor per group and
// prefetched per group and row, took 1.0-1.2 ms with W in L3. Without its prefetch:
// the same. Loads + FMA without the expand: 0.53. The expand without the loads: 0.99.
// Neither: 0.30. A sequential read of the same bytes: 0.22. So neither the expand's
// throughput nor bandwidth set the time: the per-group chain (mask -> popcount ->
// cursor -> next load -> expand) did. The quad form runs 0.50-0.65 ms warm, one
// thread ~1.2 ns per row-group (was ~2.0). With caches disturbed between calls (a
// 64 MB read, as the bench's interleaved rounds do) the 8 short streams per core
// (4 rows x masks, values) became the limit: quad 0.97-1.02 ms, quad + prefetch of
// the next block of rows into L2 as one stream (NextBlockPrefetch) 0.85; at
// 11008 x 4096 (60 MB, past L3) 2.0-2.6 -> 1.6 ms against 5.0-5.9 ms dense.
// In the csr-bsr bench (quiet run, rounds interleaved with a dozen other matrices, two
// threads) 70% decode reached 1.195 ms at 4096 x 4096 = 1.67x dense and 3.205 ms at
// 11008 x 4096 = 1.75x (previous kernel: 1.49x at both): 18.6 GB/s of bitmap, 0.88 G
// row-groups/s, ~2.3 ns per row-group per core. Issue 3's 2.5x needs ~27 GB/s, ~1.5 ns
// per row-group per core with W streaming from memory; the harness reached 1.2 ns only with
// W in L3 and ~1.45 ns (one thread) with caches disturbed. That per-core rate of a load,
// an expand and an FMA per 16 columns whatever the popcount, with the values coming from
// memory, is the measured limit; 2.5x was not reached.
// Tried and dropped: 8 groups per step or 8 rows (register pressure, slower), 2 rows
// (too few independent chains), 16-value-aligned loads (no gain: line splits are not
// the cost), compressing x instead of expanding W (2x slower), a per-4-row interleaved
// value layout (one stream, as fast as the next-block prefetch without a new format).
// Earlier: the memory form of vexpandps (GCC folds the load into it unless stopped) and
// vpermps with 8-bit-mask index tables were slower; vpexpandw (VBMI2) for bf16/f16
// measured no faster than widening first, so there is no separate VBMI2 path.
//
// Safety without a separate pass over the masks: a row's cursor is clamped to the end
// of the rows being computed before each quad's loads, and the row is accepted only if
// its cursor lands exactly on its end (popcounts match the offsets) and its last mask
// keeps no column >= K. A quad's loads reach up to 63 values past the clamped cursor, so
// rows ending within kQuadReach values of the end of the whole array take the scalar path
// (a guard page right after the values faulted when that margin was 16).
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#define SPARSENN_VARIANT avx512
#define SPARSENN_BITMAP_OWN_ROWS 1
#include "spmm_bitmap_generic.inc"

#include "simd_widen.h"

namespace sparsenn {
namespace avx512 {

namespace {

// Values read past a row's cursor by one quad of groups: offsets up to 48 plus a 16-wide load.
constexpr int64_t kQuadReach = 4 * kBitmapGroup;

// R rows n0.. (each ending >= kQuadReach values before the end of the array) for MR rows of X.
// Returns false when some row's masks do not match its offsets (its y is then garbage).
template <DType DT, int R, int MR>
bool simd_rows(const BitmapView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t n0) {
  const int64_t G = w.groups;
  const int64_t full = w.cols / kBitmapGroup;
  // Quads for one or two rows of X (decode), where the per-group cursor chain was the limit.
  // With more rows of X each group costs MR FMAs and the accumulators leave no registers for
  // the 4·R preloaded vectors: measured 25% slower at M = 8, so those go one group at a time.
  constexpr bool kQuads = MR <= 2;
  const int64_t quad_end = kQuads ? full / 4 * 4 : 0;
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
  // Software prefetch: the next block of rows into L2 (NextBlockPrefetch), and each row's values
  // kPrefetchValues ahead of its cursor into L1, one line per quad.
  constexpr int64_t kPrefetchValues = DT == DType::F32 ? 256 : 512;
  // Four groups at a time: the four masks of a row are one u64, and prefix popcounts give
  // every group's offset from the quad's cursor, so the four loads and expands of a row are
  // independent and the cursor moves once per quad. Advancing it per group (the previous
  // kernel) chained load -> popcount -> add -> next load and ran ~2x slower.
  const NextBlockPrefetch next(w, n0 + R, n0 + 2 * R, quad_end / 4);
  for (int64_t g = 0; g < quad_end; g += 4) {
    next.at(g / 4);
    uint64_t quad[R];
    {
      __m512 packed[R][4];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        std::memcpy(&quad[r], masks + r * G + g, sizeof(uint64_t));
        const int64_t j = std::min(cur[r], bound);  // in bounds even when the masks over-claim
        _mm_prefetch(static_cast<const char*>(w.values) + (j + kPrefetchValues) * dtype_size(DT), _MM_HINT_T0);
        const uint64_t m = quad[r];
        packed[r][0] = widen16<DT>(w.values, j);
        packed[r][1] = widen16<DT>(w.values, j + _mm_popcnt_u64(m & 0xffffull));
        packed[r][2] = widen16<DT>(w.values, j + _mm_popcnt_u64(m & 0xffffffffull));
        packed[r][3] = widen16<DT>(w.values, j + _mm_popcnt_u64(m & 0xffffffffffffull));
        // Keep the loads separate instructions: GCC would otherwise fold them into the memory
        // form of vexpandps, which is microcoded on Zen 4.
        asm("" : "+v"(packed[r][0]), "+v"(packed[r][1]), "+v"(packed[r][2]), "+v"(packed[r][3]));
        cur[r] += _mm_popcnt_u64(m);
      }
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        __m512 xv[MR];
#pragma GCC unroll 8
        for (int m = 0; m < MR; ++m) xv[m] = _mm512_loadu_ps(x + m * ldx + (g + q) * kBitmapGroup);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
          const __m512 v = _mm512_maskz_expand_ps(__mmask16(quad[r] >> (16 * q)), packed[r][q]);
#pragma GCC unroll 8
          for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_fmadd_ps(v, xv[m], acc[r][m]);
        }
      }
    }
  }
  // The remaining whole groups (the last 0-3 after the quads, or all of them for MR > 2), and a
  // partial one (whose x past K is not read: those mask bits were checked zero), one at a time.
  const char* next_masks = reinterpret_cast<const char*>(w.masks + (n0 + R) * G);
  const auto step = [&](int64_t g, const __m512* xv) {
    // Per group: the next rows' masks every 4 groups, each row's values ahead of its cursor
    // (without these, M = 8 measured ~25% slower).
    if ((g & 3) == 0) _mm_prefetch(next_masks + g * 16, _MM_HINT_T0);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const uint32_t mask = masks[r * G + g];
      const int64_t j = std::min(cur[r], bound);
      _mm_prefetch(static_cast<const char*>(w.values) + (j + kPrefetchValues) * dtype_size(DT), _MM_HINT_T0);
      __m512 packed = widen16<DT>(w.values, j);
      asm("" : "+v"(packed));
      const __m512 v = _mm512_maskz_expand_ps(__mmask16(mask), packed);
#pragma GCC unroll 8
      for (int m = 0; m < MR; ++m) acc[r][m] = _mm512_fmadd_ps(v, xv[m], acc[r][m]);
      cur[r] += _mm_popcnt_u32(mask);
    }
  };
  for (int64_t g = quad_end; g < full; ++g) {
    __m512 xv[MR];
#pragma GCC unroll 8
    for (int m = 0; m < MR; ++m) xv[m] = _mm512_loadu_ps(x + m * ldx + g * kBitmapGroup);
    step(g, xv);
  }
  if (full < G) {
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
  // Rows interleaved: 4 for decode (preloaded quads 4·R, accumulators R·MR, x vectors MR),
  // else 2 (accumulators and x vectors).
  constexpr int R = MR <= 2 ? 4 : 2;
  static_assert(MR > 2 || 4 * R + R * MR + MR <= 30, "quads: preloaded values, accumulators and x must fit 32 zmm");
  static_assert(R * MR + MR <= 24, "accumulators and x vectors must fit the 32 zmm registers");
  bool ok = true;
  int64_t n = nb;
  // Rows whose quad loads stay inside the values: row_ptr[n + 1] + kQuadReach <= nnz.
  const auto simd_safe = [&](int64_t last) { return int64_t(w.row_ptr[last + 1]) + kQuadReach <= w.nnz; };
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
