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
#include "spmm_nm_prefill.inc"

#include "simd_widen.h"

namespace sparsenn {
namespace avx512 {

namespace {

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
      const __m512 v = widen16<DT>(w.values, vrow[ni] + j * 16);
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

// ---------------------------------------------------------------------------
// Decode (M <= 4 X rows): one pass over W, which is the whole cost, so the loop is shaped to
// keep as much of W in flight as the dense GEMV does. What mattered (measured on Zen 4, one
// thread, N=11008 K=4096, interleaved with the previous kernel; see the commit messages):
//  - the metadata: each W row's positions are a slow stream of their own (4 bytes per 64 bytes
//    of f32 values), 8 of them beside the 8 value streams, and their demand misses stalled the
//    loop (with the metadata replaced by L1-resident words the old loop ran ~15% faster).
//    The next tile's metadata (NB rows, one contiguous block) is now swept into L1 one line at
//    a time while this tile runs.
//  - the values: a software prefetch per row 4 KiB ahead (the dense GEMV asks 2 KiB), that continues
//    into the same row of the next tile near a row's end, so tile changes do not restart cold.
//  - bf16: two metadata words (32 values, one 64-byte line) per step, the values widened by a
//    masked vpermw into the lane order that one 64-bit broadcast of the two words decodes to:
//    11 instructions per line instead of 14 (more of W in flight in the same out-of-order window).
//  - every row of a tile is addressed from one moving pointer (RowOffsets) and the row loops are
//    unrolled by pragma: GCC otherwise kept the 8 accumulators in memory and 16 row pointers on
//    the stack, incremented there every step.
constexpr int kDecodeRows = 8;                              // W rows per tile for 1-2 X rows

// Byte offsets of the NB rows of a tile from its first row, as few distinct registers as the
// x86 addressing modes allow (base + index*{1,2,4,8}): rows 0-7 from s, 3s, 5s, 7s. Written out so
// the compiler addresses every row from one moving pointer instead of keeping (and
// incrementing) a pointer per row, which spilled: 16 row pointers (values and metadata) do not
// fit in the general registers beside the loop's other state.
struct RowOffsets {
  int64_t s1, s3, s5, s7;
  explicit RowOffsets(int64_t s) : s1(s), s3(3 * s), s5(5 * s), s7(7 * s) {}
  template <typename T>
  inline const T* at(const T* p, int ni) const {
    const char* c = reinterpret_cast<const char*>(p);
    switch (ni) {
      case 0: return p;
      case 1: return reinterpret_cast<const T*>(c + s1);
      case 2: return reinterpret_cast<const T*>(c + 2 * s1);
      case 3: return reinterpret_cast<const T*>(c + s3);
      case 4: return reinterpret_cast<const T*>(c + 4 * s1);
      case 5: return reinterpret_cast<const T*>(c + s5);
      case 6: return reinterpret_cast<const T*>(c + 2 * s3);
      default: return reinterpret_cast<const T*>(c + s7 + (ni - 7) * s1);
    }
  }
};

// Prefetches the lines of `block` that start in [from, from + bytes): called with consecutive
// ranges, it asks for every line of the block once, in order.
template <bool kL1>
inline void sweep(const char* block, int64_t from, int64_t bytes) {
  for (int64_t b = (from + 63) & ~int64_t(63); b < from + bytes; b += 64) {
    if constexpr (kL1) _mm_prefetch(block + b, _MM_HINT_T0);
    else _mm_prefetch(block + b, _MM_HINT_T1);
  }
}

// Distance of the values' software prefetch, per row. Measured (2 threads, N=11008 K=4096,
// interleaved, 4 runs of 25): 1 KiB 1.81x / 1.78x dense (f32 / bf16), 2 KiB 1.79x / 1.88x,
// 3 KiB 1.81x / 1.89x, 4 KiB 1.83x / 1.90x.
constexpr int64_t kAheadBytes = 4096;

// Offset from a row's current line to the line to prefetch: kAheadBytes on, jumping to the same
// row of the next tile (`wrap` bytes further) once that passes the row's end; 0 when there is
// nothing left to ask for (the last tile), which re-touches a line already in cache.
inline int64_t ahead_offset(int64_t at, int64_t vstride, int64_t wrap) {
  if (at + kAheadBytes < vstride) return kAheadBytes;
  return wrap >= 0 ? kAheadBytes + wrap : 0;
}

// The 16 x columns picked by one metadata word: lane l is kept value l of the word, in
// group l/2, at column 4*(l/2) + its 2-bit position; those 32 columns are x[lo] ++ x[hi].
inline __m512i word_index(uint32_t word, __m512i shifts, __m512i base, __m512i three) {
  // (field & 3) | base in one vpternlogd: base has its two low bits clear, so | is +.
  return _mm512_ternarylogic_epi32(_mm512_srlv_epi32(_mm512_set1_epi32(int(word)), shifts), three, base, 0xEA);
}

// Streams the W rows [n0, n0 + NB) against MB rows of X. Words per step: 1 (16 values), or 2
// for bf16 with one X row (32 values, one 64-byte line).
template <DType DT, int MB, int NB>
void decode_tile(const float* x, int64_t xs, const NmView& w, int64_t n0, int64_t words, float* y, int64_t ys) {
  constexpr int64_t kElem = DT == DType::F32 ? 4 : 2;
  const int64_t vstride = w.groups * 2 * kElem;  // bytes per W row of values
  const RowOffsets vo(vstride), mo(w.meta_words * 4);
  const char* pv = static_cast<const char*>(w.values) + n0 * vstride;  // row 0, this step
  const uint32_t* pm = w.meta + n0 * w.meta_words;
  // Prefetch. Values: every row asks for the line kAheadBytes past the one it reads (as the dense
  // GEMV does); near a row's end that line is in the same row of the next tile, NB rows further
  // on, so a new tile starts with its lines already requested (bf16 rows are only 4 KiB at
  // K = 4096). Metadata: the next tile's (NB rows, contiguous) is swept into L1 in step with
  // this tile's progress, one line at a time.
  const bool has_next = n0 + 2 * NB <= w.rows;
  const int64_t wrap = has_next ? (NB - 1) * vstride : -int64_t(1) << 40;  // no next tile: never
  const char* next_m = reinterpret_cast<const char*>(pm + NB * w.meta_words);
  const __m512i three = _mm512_set1_epi32(3);
  __m512 acc[MB][NB];
  _Pragma("GCC unroll 16")
  for (int mi = 0; mi < MB; ++mi)
    _Pragma("GCC unroll 16")
    for (int ni = 0; ni < NB; ++ni) acc[mi][ni] = _mm512_setzero_ps();
  int64_t j = 0;
  if constexpr (DT == DType::BF16 && MB == 1) {
    // Two words (w0, w1) per step. A 64-bit broadcast puts w0 in even lanes and w1 in odd ones;
    // shifting lane l by 2*(l/2) (+16) gives field l/2 (+8) of its word, so index vector `a`
    // takes value l/2 of w0 / w1 in even / odd lanes, groups 0-3 of each word: columns 0-15 and
    // 32-47 of the 64, i.e. registers x0 and x2; `b` takes fields 8-15: columns 16-31, 48-63.
    const __m512i sh_a = _mm512_setr_epi32(0, 0, 2, 2, 4, 4, 6, 6, 8, 8, 10, 10, 12, 12, 14, 14);
    const __m512i sh_b = _mm512_add_epi32(sh_a, _mm512_set1_epi32(16));
    const __m512i base = _mm512_setr_epi32(0, 16, 0, 16, 4, 20, 4, 20, 8, 24, 8, 24, 12, 28, 12, 28);
    // bf16 value v sits in the high half of lane l: v = 16*(l&1) + l/2 (+8 for b); low halves zero.
    const __m512i pick_a = _mm512_set_epi16(23, 0, 7, 0, 22, 0, 6, 0, 21, 0, 5, 0, 20, 0, 4, 0, 19, 0, 3, 0, 18, 0, 2,
                                            0, 17, 0, 1, 0, 16, 0, 0, 0);
    const __m512i pick_b = _mm512_add_epi16(pick_a, _mm512_set1_epi16(8));
    constexpr __mmask32 kHigh = 0xAAAAAAAAu;
    for (; j + 2 <= words; j += 2, pv += 64, pm += 2) {
      if (has_next) sweep<true>(next_m, j * NB * 4, NB * 8);
      const int64_t pf = ahead_offset(j * 32, vstride, wrap);
      const __m512 x0 = _mm512_loadu_ps(x + j * 32), x1 = _mm512_loadu_ps(x + j * 32 + 16);
      const __m512 x2 = _mm512_loadu_ps(x + j * 32 + 32), x3 = _mm512_loadu_ps(x + j * 32 + 48);
      _Pragma("GCC unroll 16")
      for (int ni = 0; ni < NB; ++ni) {
        const char* row = vo.at(pv, ni);
        _mm_prefetch(row + pf, _MM_HINT_T1);
        const __m512i pair = _mm512_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(mo.at(pm, ni))));
        const __m512i ia = _mm512_ternarylogic_epi32(_mm512_srlv_epi32(pair, sh_a), three, base, 0xEA);
        const __m512i ib = _mm512_ternarylogic_epi32(_mm512_srlv_epi32(pair, sh_b), three, base, 0xEA);
        const __m512i raw = _mm512_loadu_si512(row);
        const __m512 va = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(kHigh, pick_a, raw));
        const __m512 vb = _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(kHigh, pick_b, raw));
        acc[0][ni] = _mm512_fmadd_ps(_mm512_permutex2var_ps(x0, ia, x2), va, acc[0][ni]);
        acc[0][ni] = _mm512_fmadd_ps(_mm512_permutex2var_ps(x1, ib, x3), vb, acc[0][ni]);
      }
    }
  }
  const __m512i shifts = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i base = _mm512_setr_epi32(0, 0, 4, 4, 8, 8, 12, 12, 16, 16, 20, 20, 24, 24, 28, 28);
  constexpr int64_t kStep = 16 * kElem;  // value bytes per row per step
  for (; j < words; ++j, pv += kStep, ++pm) {
    if (has_next) sweep<true>(next_m, j * NB * 4, NB * 4);
    const int64_t pf = ahead_offset(j * kStep, vstride, wrap);
    const bool new_line = (j * kStep & 63) == 0;
    __m512 xl[MB], xh[MB];
    _Pragma("GCC unroll 16")
    for (int mi = 0; mi < MB; ++mi) {
      xl[mi] = _mm512_loadu_ps(x + mi * xs + j * 32);
      xh[mi] = _mm512_loadu_ps(x + mi * xs + j * 32 + 16);
    }
    _Pragma("GCC unroll 16")
    for (int ni = 0; ni < NB; ++ni) {
      const char* row = vo.at(pv, ni);
      if (new_line) _mm_prefetch(row + pf, _MM_HINT_T1);
      const __m512i idx = word_index(*mo.at(pm, ni), shifts, base, three);
      const __m512 v = widen16<DT>(row, 0);
      _Pragma("GCC unroll 16")
      for (int mi = 0; mi < MB; ++mi)
        acc[mi][ni] = _mm512_fmadd_ps(_mm512_permutex2var_ps(xl[mi], idx, xh[mi]), v, acc[mi][ni]);
    }
  }
  _Pragma("GCC unroll 16")
  for (int mi = 0; mi < MB; ++mi)
    _Pragma("GCC unroll 16")
    for (int ni = 0; ni < NB; ++ni) y[mi * ys + n0 + ni] = _mm512_reduce_add_ps(acc[mi][ni]);
}

template <DType DT, int MB>
void decode_rows(const float* x, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin, int64_t n_end,
                 int64_t words) {
  constexpr int NB = MB <= 2 ? kDecodeRows : 4;  // MB x NB accumulators + 2*MB (4*MB) x registers
  int64_t n = n_begin;
  for (; n + NB <= n_end; n += NB) decode_tile<DT, MB, NB>(x, xs, w, n, words, y, ys);
  for (; n < n_end; ++n) decode_tile<DT, MB, 1>(x, xs, w, n, words, y, ys);
}

template <DType DT>
void decode24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
              int64_t n_end, int64_t words) {
  switch (M) {
    case 1: return decode_rows<DT, 1>(x, xs, w, y, ys, n_begin, n_end, words);
    case 2: return decode_rows<DT, 2>(x, xs, w, y, ys, n_begin, n_end, words);
    case 3: return decode_rows<DT, 3>(x, xs, w, y, ys, n_begin, n_end, words);
    default: return decode_rows<DT, 4>(x, xs, w, y, ys, n_begin, n_end, words);
  }
}

template <DType DT>
void block24(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys, int64_t n_begin,
             int64_t n_end, int64_t j0, int64_t j1, bool accumulate) {
  const int64_t per_row = w.groups * 2;
  const int64_t full = per_row / 16;  // words holding 16 values; a last partial word is the tail
  const int64_t jf = j1 < full ? j1 : full;
  int64_t n = n_begin;
  if (M <= 4 && j0 == 0 && jf == full && !accumulate) {
    decode24<DT>(x, M, xs, w, y, ys, n_begin, n_end, full);
    n = n_end;
  }
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
        _mm512_storeu_ps(v + j, widen16<DT>(w.values, n * per_row + i0 + j));
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
