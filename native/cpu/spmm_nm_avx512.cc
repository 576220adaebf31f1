// N:M kernels, AVX-512 variant. The 2:4 kernel decodes one metadata word (16 kept
// values = 8 groups = 32 columns) into 16 column indices with a shift, an and and an
// add, then gathers x from two registers holding those 32 columns with one
// vpermt2ps: no memory gathers. Each decoded word feeds MB rows of X, and each
// loaded X chunk feeds NB rows of W, so prefill does half the multiply-adds of dense.
#include "isa.h"
#if SPARSENN_X86
// GCC 12 warns inside its own AVX-512 headers (_mm512_undefined_* self-init); a false positive.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <vector>

#define SPARSENN_VARIANT avx512
#include "spmm_nm_generic.inc"

namespace sparsenn {
namespace avx512 {

namespace {

template <DType DT>
inline __m512 load16(const void* values, int64_t i) {
  if constexpr (DT == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(values) + i);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(values) + i));
    if constexpr (DT == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}

// acc[mi][ni] += over full words [j0, j1): x rows m0.. (MB of them) against W rows n0.. (NB).
template <DType DT, int MB, int NB>
inline void tile24(const float* x, int64_t xs, const NmView& w, int64_t n0, int64_t j0, int64_t j1, float* y,
                   int64_t ys, bool accumulate) {
  const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
  const __m512i three = _mm512_set1_epi32(3);
  const int64_t per_row = w.groups * 2;
  const uint32_t* meta[NB];
  int64_t vrow[NB];
  for (int ni = 0; ni < NB; ++ni) {
    meta[ni] = w.meta + (n0 + ni) * w.meta_words;
    vrow[ni] = (n0 + ni) * per_row;
  }
  __m512 acc[MB][NB];
  for (int mi = 0; mi < MB; ++mi)
    for (int ni = 0; ni < NB; ++ni) acc[mi][ni] = _mm512_setzero_ps();
  for (int64_t j = j0; j < j1; ++j) {
    __m512 xl[MB], xh[MB];
    for (int mi = 0; mi < MB; ++mi) {
      xl[mi] = _mm512_loadu_ps(x + mi * xs + j * 32);
      xh[mi] = _mm512_loadu_ps(x + mi * xs + j * 32 + 16);
    }
    for (int ni = 0; ni < NB; ++ni) {
      const __m512i word = _mm512_set1_epi32(int(meta[ni][j]));
      // (field & 3) | base in one vpternlogd: base has its two low bits clear, so | is +.
      const __m512i idx = _mm512_ternarylogic_epi32(_mm512_srlv_epi32(word, shifts), three, base, 0xEA);
      const __m512 v = load16<DT>(w.values, vrow[ni] + j * 16);
      for (int mi = 0; mi < MB; ++mi)
        acc[mi][ni] = _mm512_fmadd_ps(_mm512_permutex2var_ps(xl[mi], idx, xh[mi]), v, acc[mi][ni]);
    }
  }
  for (int mi = 0; mi < MB; ++mi)
    for (int ni = 0; ni < NB; ++ni) {
      float& out = y[mi * ys + n0 + ni];
      const float s = _mm512_reduce_add_ps(acc[mi][ni]);
      out = accumulate ? out + s : s;
    }
}

template <DType DT, int NB>
void rows24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n0, int64_t j0,
            int64_t j1, bool accumulate) {
  constexpr int kMB = 4;
  int64_t m = 0;
  for (; m + kMB <= M; m += kMB) tile24<DT, kMB, NB>(x + m * xs, xs, w, n0, j0, j1, y + m * ys, ys, accumulate);
  for (; m < M; ++m) tile24<DT, 1, NB>(x + m * xs, xs, w, n0, j0, j1, y + m * ys, ys, accumulate);
}

template <DType DT>
void block24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
             int64_t n_end, int64_t j0, int64_t j1, bool accumulate) {
  const int64_t per_row = w.groups * 2;
  const int64_t full = per_row / 16;  // words holding 16 values; a last partial word is the tail
  const int64_t jf = j1 < full ? j1 : full;
  int64_t n = n_begin;
  // Decode (fewer than 4 X rows): 8 W rows per tile keep more independent loads in flight
  // (measured ~10% more bandwidth than 4); with 4 X rows, 4 x 8 accumulators would spill.
  if (M < 4)
    for (; n + 8 <= n_end; n += 8) rows24<DT, 8>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  for (; n + 4 <= n_end; n += 4) rows24<DT, 4>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  for (; n < n_end; ++n) rows24<DT, 1>(x, M, xs, w, y, ys, n, j0, jf, accumulate);
  if (j1 > full && per_row > full * 16) {
    for (int64_t r = n_begin; r < n_end; ++r)
      for (int64_t mi = 0; mi < M; ++mi) {
        // The word loop above has already written (or added to) this output.
        y[mi * ys + r] += nm_dot_scalar(x + mi * xs, w, r, full * 16, per_row);
      }
  }
}

}  // namespace

void nm24_block(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
                int64_t n_end, int64_t word_begin, int64_t word_end, bool accumulate) {
  switch (w.dtype) {
    case DType::F32: return block24<DType::F32>(x, M, xs, w, y, ys, n_begin, n_end, word_begin, word_end, accumulate);
    case DType::BF16: return block24<DType::BF16>(x, M, xs, w, y, ys, n_begin, n_end, word_begin, word_end, accumulate);
    default: return block24<DType::F16>(x, M, xs, w, y, ys, n_begin, n_end, word_begin, word_end, accumulate);
  }
}

// ---------------------------------------------------------------------------
// Prefill (many X rows): outer products on packed X panels. Permuting X per (row of W,
// row of X) costs a shuffle per FMA, which caps the permute kernel at dense speed; here
// the gather is done by the load unit instead. X is packed k-major in panels of
// kNmPanelRows = 64 rows (xp[mt][k][0..64)); for each kept value (k, v) of a W row, the tile
// does acc[0..64) += v * xp[mt][k][0..64): one broadcast and 4 FMAs with a memory
// operand, and only the kept half of the multiply-adds. The load unit (one 64-byte
// load per FMA) is then the limit: about 0.75 of the FMA rate dense reaches on Zen 4. A W block's positions are
// decoded once into panel offsets + f32 values and reused by every panel of X.
namespace {

constexpr int kQ = int(kNmPanelRows / 16);  // accumulators per W row: the panel's 16-float vectors
constexpr int kNR = 24 / kQ;                 // W rows per register tile: 24 accumulators in all
constexpr int64_t kKc = 64;                  // k-block: a 64 x 64 X panel is 16 KB and stays in L1

template <int NR>
inline void prefill_tile(const float* panel, const int32_t* offs, const float* vals, int64_t J, float* yt,
                         int64_t ldy) {
  __m512 acc[NR][kQ];
  const int32_t* o[NR];
  const float* v[NR];
  for (int r = 0; r < NR; ++r) {
    o[r] = offs + r * J;
    v[r] = vals + r * J;
    for (int q = 0; q < kQ; ++q) acc[r][q] = _mm512_loadu_ps(yt + r * ldy + q * 16);
  }
  for (int64_t j = 0; j < J; ++j) {
    for (int r = 0; r < NR; ++r) {
      const float* p = panel + o[r][j];
      const __m512 b = _mm512_set1_ps(v[r][j]);
      for (int q = 0; q < kQ; ++q) acc[r][q] = _mm512_fmadd_ps(b, _mm512_loadu_ps(p + q * 16), acc[r][q]);
    }
  }
  for (int r = 0; r < NR; ++r)
    for (int q = 0; q < kQ; ++q) _mm512_storeu_ps(yt + r * ldy + q * 16, acc[r][q]);
}

// Decodes stored values [i0, i0 + J) of `rows` W rows from n0 into panel offsets (floats)
// relative to the k-block start and f32 values.
template <DType DT>
void decode_block(const NmView& w, int64_t n0, int64_t rows, int64_t i0, int64_t J, int32_t* offs, float* vals) {
  const int64_t per_row = w.groups * w.n;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = n0 + r;
    const uint32_t* meta = w.meta + n * w.meta_words;
    int32_t* o = offs + r * J;
    float* v = vals + r * J;
    int64_t j = 0;
    if (w.n == 2 && w.m == 4 && (i0 & 15) == 0) {
      // 16 positions per word: column = 4 * group + position, times the panel width.
      const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
      const __m512i three = _mm512_set1_epi32(3);
      for (; j + 16 <= J; j += 16) {
        const __m512i word = _mm512_set1_epi32(int(meta[(i0 + j) >> 4]));
        __m512i col = _mm512_add_epi32(_mm512_and_si512(_mm512_srlv_epi32(word, shifts), three), base);
        col = _mm512_add_epi32(col, _mm512_set1_epi32(int32_t(j * 2)));
        _mm512_storeu_si512(o + j, _mm512_mullo_epi32(col, _mm512_set1_epi32(int32_t(kNmPanelRows))));
        _mm512_storeu_ps(v + j, load16<DT>(w.values, n * per_row + i0 + j));
      }
    }
    for (; j < J; ++j) {
      const int64_t i = i0 + j;
      o[j] = int32_t(((j / w.n) * w.m + nm_position(meta, i, w.bits)) * kNmPanelRows);
      v[j] = nm_value(w, n * per_row + i);
    }
  }
}

template <DType DT>
void prefill_block_t(const float* xp, int64_t Mp, int64_t Kp, const NmView& w, float* y, int64_t M, int64_t ys,
                     int64_t n0, int64_t n1) {
  const int64_t rows = n1 - n0;
  const int64_t jmax = kKc / w.m * w.n;
  std::vector<float> yt(size_t(rows * Mp), 0.f);
  std::vector<int32_t> offs(size_t(rows * jmax));
  std::vector<float> vals(size_t(rows * jmax));
  for (int64_t kb = 0; kb < Kp; kb += kKc) {
    const int64_t kc = kb + kKc <= Kp ? kKc : Kp - kb;  // a multiple of m: Kp and kKc are
    const int64_t J = kc / w.m * w.n;
    decode_block<DT>(w, n0, rows, kb / w.m * w.n, J, offs.data(), vals.data());
    for (int64_t mt = 0; mt < Mp / kNmPanelRows; ++mt) {
      const float* panel = xp + (mt * Kp + kb) * kNmPanelRows;
      float* yt_m = yt.data() + mt * kNmPanelRows;
      int64_t r = 0;
      for (; r + kNR <= rows; r += kNR)
        prefill_tile<kNR>(panel, offs.data() + r * J, vals.data() + r * J, J, yt_m + r * Mp, Mp);
      const int32_t* o = offs.data() + r * J;
      const float* v = vals.data() + r * J;
      switch (rows - r) {  // fewer than kNR rows left
        case 5: if constexpr (kNR > 5) { prefill_tile<5>(panel, o, v, J, yt_m + r * Mp, Mp); break; } [[fallthrough]];
        case 4: if constexpr (kNR > 4) { prefill_tile<4>(panel, o, v, J, yt_m + r * Mp, Mp); break; } [[fallthrough]];
        case 3: if constexpr (kNR > 3) { prefill_tile<3>(panel, o, v, J, yt_m + r * Mp, Mp); break; } [[fallthrough]];
        case 2: if constexpr (kNR > 2) { prefill_tile<2>(panel, o, v, J, yt_m + r * Mp, Mp); break; } [[fallthrough]];
        case 1: prefill_tile<1>(panel, o, v, J, yt_m + r * Mp, Mp); break;
        default: break;
      }
    }
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t m = 0; m < M; ++m) y[m * ys + n0 + r] = yt[size_t(r * Mp + m)];
}

}  // namespace

void nm_prefill_block(const float* xp, int64_t Mp, int64_t Kp, const NmView& w, float* y, int64_t M, int64_t ys,
                      int64_t n0, int64_t n1) {
  switch (w.dtype) {
    case DType::F32: return prefill_block_t<DType::F32>(xp, Mp, Kp, w, y, M, ys, n0, n1);
    case DType::BF16: return prefill_block_t<DType::BF16>(xp, Mp, Kp, w, y, M, ys, n0, n1);
    default: return prefill_block_t<DType::F16>(xp, Mp, Kp, w, y, M, ys, n0, n1);
  }
}

}  // namespace avx512
}  // namespace sparsenn
#endif
