// CSR kernels, AVX-512 variant. Decode (gather form): 16 nonzeros per step,
// values (f32, or bf16/f16 widened in-register) and u16/u32 indices streamed
// once, x gathered with vgatherdps. Each step's indices are clamped to K - 1 before
// the gather and their running maximum is checked once per call, so a corrupted index
// costs two integer ops and is never dereferenced. (The earlier form, a compare into a
// mask and a masked gather, measured ~8% slower at 4096 x 4096, 90%, two threads.) Prefill: the K-blocked packed form of
// spmm_csr_blocked.inc (32-row X panels); the unblocked packed form (a broadcast value times
// mb/16 vectors of the k-major X block per nonzero) stays for a build without it.
#include "isa.h"
#if SPARSENN_X86
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "sparsenn/convert.h"
#include "sparsenn/views.h"
#include "spmm_csr_kernels.h"

#include "simd_reduce.h"
#include "simd_widen.h"

#include "element_f32.h"

namespace sparsenn {
namespace avx512 {

namespace {

template <DType DT>
inline __m512 load_values(const void* v, int64_t j, __mmask16 lanes) {
  if constexpr (DT == DType::F32) {
    return _mm512_maskz_loadu_ps(lanes, static_cast<const float*>(v) + j);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(lanes, static_cast<const uint16_t*>(v) + j);
    if constexpr (DT == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    return _mm512_cvtph_ps(h);
  }
}

template <typename IT>
inline __m512i load_indices(const IT* idx, int64_t j, __mmask16 lanes) {
  if constexpr (sizeof(IT) == 2) return _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(lanes, idx + j));
  return _mm512_maskz_loadu_epi32(lanes, idx + j);
}

template <typename IT>
inline __m512i load_indices(const IT* idx, int64_t j) {
  if constexpr (sizeof(IT) == 2) return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx + j)));
  return _mm512_loadu_si512(idx + j);
}

// One full 16-lane step for MR rows of X: indices clamped into [0, K), their maximum kept in `hi`.
template <int MR>
inline void gather_step(const float* x, int64_t ldx, __m512i vidx, __m512 v, __m512i vK1, __m512* acc, __m512i& hi) {
  hi = _mm512_max_epu32(hi, vidx);
  const __m512i safe = _mm512_min_epu32(vidx, vK1);
  for (int m = 0; m < MR; ++m) acc[m] = _mm512_fmadd_ps(v, _mm512_i32gather_ps(safe, x + m * ldx, 4), acc[m]);
}

// The last, partial step: lanes past the row are not gathered (their x might be inf or NaN).
template <int MR>
inline void gather_tail(const float* x, int64_t ldx, __m512i vidx, __m512 v, __mmask16 lanes, __m512i vK1,
                        __m512* acc, __m512i& hi) {
  hi = _mm512_max_epu32(hi, vidx);  // lanes past the row loaded as 0
  const __m512i safe = _mm512_min_epu32(vidx, vK1);
  for (int m = 0; m < MR; ++m) {
    const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), lanes, safe, x + m * ldx, 4);
    acc[m] = _mm512_fmadd_ps(v, g, acc[m]);
  }
}

template <DType DT, typename IT, int MR>
bool gather_rows(const CsrView& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t nb, int64_t ne) {
  constexpr int64_t kPrefetchAhead = 512;
  constexpr int64_t kValueBytes = DT == DType::F32 ? 4 : 2;
  const IT* idx = static_cast<const IT*>(w.col_idx);
  if (w.cols == 0) {  // no column exists to clamp to: any nonzero is a bad index
    for (int64_t n = nb; n < ne; ++n)
      for (int m = 0; m < MR; ++m) y[m * ldy + n] = 0.f;
    return w.row_ptr[ne] == w.row_ptr[nb];
  }
  const __m512i vK1 = _mm512_set1_epi32(int32_t(w.cols - 1));  // the binding keeps K < 2^31
  __m512i hi = _mm512_setzero_si512();
  for (int64_t n = nb; n < ne; ++n) {
    // Two accumulator sets (even / odd steps) keep two gathers and FMAs in flight.
    __m512 acc0[MR], acc1[MR];
    for (int m = 0; m < MR; ++m) acc0[m] = acc1[m] = _mm512_setzero_ps();
    int64_t j = w.row_ptr[n];
    const int64_t e = w.row_ptr[n + 1];
    for (; j + 32 <= e; j += 32) {
      // Software prefetch ~512 entries ahead: on top of the hardware prefetcher it measured
      // ~6% faster when streaming W from DRAM (the gathers keep the load ports busy).
      const char* vp = static_cast<const char*>(w.values) + (j + kPrefetchAhead) * kValueBytes;
      _mm_prefetch(vp, _MM_HINT_T0);
      if constexpr (kValueBytes == 4) _mm_prefetch(vp + 64, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(idx + j + kPrefetchAhead), _MM_HINT_T0);
      if constexpr (sizeof(IT) == 4) _mm_prefetch(reinterpret_cast<const char*>(idx + j + kPrefetchAhead) + 64, _MM_HINT_T0);
      gather_step<MR>(x, ldx, load_indices(idx, j), widen16<DT>(w.values, j), vK1, acc0, hi);
      gather_step<MR>(x, ldx, load_indices(idx, j + 16), widen16<DT>(w.values, j + 16), vK1, acc1, hi);
    }
    if (j + 16 <= e) {
      gather_step<MR>(x, ldx, load_indices(idx, j), widen16<DT>(w.values, j), vK1, acc0, hi);
      j += 16;
    }
    if (j < e) {
      const __mmask16 lanes = __mmask16((1u << (e - j)) - 1);
      gather_tail<MR>(x, ldx, load_indices(idx, j, lanes), load_values<DT>(w.values, j, lanes), lanes, vK1, acc1, hi);
    }
    for (int m = 0; m < MR; ++m) y[m * ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(acc0[m], acc1[m]));
  }
  // u32 indices >= 2^31 are large unsigned values too, so one unsigned compare covers every bad index.
  return _mm512_cmpgt_epu32_mask(hi, vK1) == 0;
}

// Largest column index of one row (its indices are read again right after, from L1).
template <typename IT>
inline uint32_t row_max_index(const IT* idx, int64_t j, int64_t e) {
  if constexpr (sizeof(IT) == 2) {
    __m512i hi = _mm512_setzero_si512();
    for (; j + 32 <= e; j += 32) hi = _mm512_max_epu16(hi, _mm512_loadu_si512(idx + j));
    if (j < e) hi = _mm512_max_epu16(hi, _mm512_maskz_loadu_epi16(__mmask32((uint64_t(1) << (e - j)) - 1), idx + j));
    const __m512i lo16 = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(hi));
    const __m512i hi16 = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(hi, 1));
    return _mm512_reduce_max_epu32(_mm512_max_epu32(lo16, hi16));
  } else {
    __m512i hi = _mm512_setzero_si512();
    for (; j + 16 <= e; j += 16) hi = _mm512_max_epu32(hi, _mm512_loadu_si512(idx + j));
    if (j < e) hi = _mm512_max_epu32(hi, _mm512_maskz_loadu_epi32(__mmask16((1u << (e - j)) - 1), idx + j));
    return _mm512_reduce_max_epu32(hi);
  }
}

// Decode (one row of X) without vgatherdps: x[col] is fetched with plain scalar loads, eight
// assembled into a vector per FMA. On Zen 4 a 16-lane vgatherdps costs ~15 cycles while scalar
// loads issue three a cycle: with x in L1 this form measured ~1.5x the gather form's nonzeros/s
// (standalone harness, 4096 x 4096, 90%, one thread, L3-resident). Each row's indices are first
// checked against K in one vector pass (they stay in L1 for the loads), so a corrupted index is
// never dereferenced: its row is skipped and the call reports the error.
template <DType DT, typename IT>
bool scalar_load_rows(const CsrView& w, const float* x, float* y, int64_t nb, int64_t ne) {
  const IT* idx = static_cast<const IT*>(w.col_idx);
  const uint64_t K = uint64_t(w.cols);
  bool ok = true;
  for (int64_t n = nb; n < ne; ++n) {
    int64_t j = w.row_ptr[n];
    const int64_t e = w.row_ptr[n + 1];
    if (j < e && (K == 0 || row_max_index(idx, j, e) >= K)) {
      ok = false;
      y[n] = 0.f;
      continue;
    }
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    for (; j + 16 <= e; j += 16) {
      const IT* p = idx + j;
      const __m256 g0 = _mm256_set_ps(x[p[7]], x[p[6]], x[p[5]], x[p[4]], x[p[3]], x[p[2]], x[p[1]], x[p[0]]);
      const __m256 g1 = _mm256_set_ps(x[p[15]], x[p[14]], x[p[13]], x[p[12]], x[p[11]], x[p[10]], x[p[9]], x[p[8]]);
      a0 = _mm256_fmadd_ps(widen8<DT>(w.values, j), g0, a0);
      a1 = _mm256_fmadd_ps(widen8<DT>(w.values, j + 8), g1, a1);
    }
    float s = hsum8(_mm256_add_ps(a0, a1));
    for (; j < e; ++j) s += element_f32<DT>(w.values, j) * x[idx[j]];
    y[n] = s;
  }
  return ok;
}

template <DType DT, typename IT, int MB>
bool packed_rows(const CsrView& w, const float* xt, float* y, int64_t ldy, int64_t mrows, int64_t nb, int64_t ne) {
  constexpr int NV = MB / 16;
  constexpr int64_t kPrefetchAhead = 12;
  const IT* idx = static_cast<const IT*>(w.col_idx);
  const uint64_t K = uint64_t(w.cols);
  bool ok = true;
  for (int64_t n = nb; n < ne; ++n) {
    __m512 a0[NV], a1[NV];
    for (int i = 0; i < NV; ++i) a0[i] = a1[i] = _mm512_setzero_ps();
    int64_t j = w.row_ptr[n];
    const int64_t e = w.row_ptr[n + 1];
    for (; j + 2 <= e; j += 2) {
      // Prefetch the X rows of the nonzeros kPrefetchAhead entries on (into the next row when
      // this one ends): they are random 64..256-byte rows of xt, mostly in L2; this measured
      // 6-10% faster single-threaded.
      if (j + kPrefetchAhead + 1 < w.nnz) {
        const char* q0 = reinterpret_cast<const char*>(xt + std::min<uint64_t>(idx[j + kPrefetchAhead], K - 1) * MB);
        const char* q1 = reinterpret_cast<const char*>(xt + std::min<uint64_t>(idx[j + kPrefetchAhead + 1], K - 1) * MB);
        for (int i = 0; i < MB * 4; i += 64) {
          _mm_prefetch(q0 + i, _MM_HINT_T0);
          _mm_prefetch(q1 + i, _MM_HINT_T0);
        }
      }
      const uint64_t c0 = idx[j], c1 = idx[j + 1];
      if (c0 >= K || c1 >= K) { ok = false; break; }
      const __m512 v0 = _mm512_set1_ps(element_f32<DT>(w.values, j));
      const __m512 v1 = _mm512_set1_ps(element_f32<DT>(w.values, j + 1));
      const float* p0 = xt + c0 * MB;
      const float* p1 = xt + c1 * MB;
      for (int i = 0; i < NV; ++i) {
        a0[i] = _mm512_fmadd_ps(v0, _mm512_loadu_ps(p0 + 16 * i), a0[i]);
        a1[i] = _mm512_fmadd_ps(v1, _mm512_loadu_ps(p1 + 16 * i), a1[i]);
      }
    }
    for (; j < e; ++j) {
      const uint64_t c = idx[j];
      if (c >= K) { ok = false; continue; }
      const __m512 v = _mm512_set1_ps(element_f32<DT>(w.values, j));
      for (int i = 0; i < NV; ++i) a0[i] = _mm512_fmadd_ps(v, _mm512_loadu_ps(xt + c * MB + 16 * i), a0[i]);
    }
    alignas(64) float out[MB];
    for (int i = 0; i < NV; ++i) _mm512_store_ps(out + 16 * i, _mm512_add_ps(a0[i], a1[i]));
    for (int64_t m = 0; m < mrows; ++m) y[m * ldy + n] = out[m];
  }
  return ok;
}

template <DType DT, typename IT>
bool gather_dispatch(const CsrView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb,
                     int64_t ne) {
  switch (mr) {
    case 1: return scalar_load_rows<DT, IT>(w, x, y, nb, ne);
    case 2: return gather_rows<DT, IT, 2>(w, x, ldx, y, ldy, nb, ne);
    case 3: return gather_rows<DT, IT, 3>(w, x, ldx, y, ldy, nb, ne);
    case 4: return gather_rows<DT, IT, 4>(w, x, ldx, y, ldy, nb, ne);
    case 5: return gather_rows<DT, IT, 5>(w, x, ldx, y, ldy, nb, ne);
    case 6: return gather_rows<DT, IT, 6>(w, x, ldx, y, ldy, nb, ne);
    case 7: return gather_rows<DT, IT, 7>(w, x, ldx, y, ldy, nb, ne);
    default: return gather_rows<DT, IT, 8>(w, x, ldx, y, ldy, nb, ne);
  }
}

template <DType DT, typename IT>
bool packed_dispatch(const CsrView& w, const float* xt, int64_t mb, float* y, int64_t ldy, int64_t mrows, int64_t nb,
                     int64_t ne) {
  if (mb == 16) return packed_rows<DT, IT, 16>(w, xt, y, ldy, mrows, nb, ne);
  if (mb == 32) return packed_rows<DT, IT, 32>(w, xt, y, ldy, mrows, nb, ne);
  return packed_rows<DT, IT, 64>(w, xt, y, ldy, mrows, nb, ne);
}

}  // namespace

bool csr_gather_rows(const CsrView& w, const float* x, int64_t ldx, int64_t mr, float* y, int64_t ldy, int64_t nb,
                     int64_t ne) {
  const bool u16 = w.index_bits == 16;
  switch (w.dtype) {
    case DType::F32: return u16 ? gather_dispatch<DType::F32, uint16_t>(w, x, ldx, mr, y, ldy, nb, ne)
                                : gather_dispatch<DType::F32, uint32_t>(w, x, ldx, mr, y, ldy, nb, ne);
    case DType::BF16: return u16 ? gather_dispatch<DType::BF16, uint16_t>(w, x, ldx, mr, y, ldy, nb, ne)
                                 : gather_dispatch<DType::BF16, uint32_t>(w, x, ldx, mr, y, ldy, nb, ne);
    default: return u16 ? gather_dispatch<DType::F16, uint16_t>(w, x, ldx, mr, y, ldy, nb, ne)
                        : gather_dispatch<DType::F16, uint32_t>(w, x, ldx, mr, y, ldy, nb, ne);
  }
}

bool csr_packed_rows(const CsrView& w, const float* xt, int64_t mb, float* y, int64_t ldy, int64_t mrows, int64_t nb,
                     int64_t ne) {
  const bool u16 = w.index_bits == 16;
  switch (w.dtype) {
    case DType::F32: return u16 ? packed_dispatch<DType::F32, uint16_t>(w, xt, mb, y, ldy, mrows, nb, ne)
                                : packed_dispatch<DType::F32, uint32_t>(w, xt, mb, y, ldy, mrows, nb, ne);
    case DType::BF16: return u16 ? packed_dispatch<DType::BF16, uint16_t>(w, xt, mb, y, ldy, mrows, nb, ne)
                                 : packed_dispatch<DType::BF16, uint32_t>(w, xt, mb, y, ldy, mrows, nb, ne);
    default: return u16 ? packed_dispatch<DType::F16, uint16_t>(w, xt, mb, y, ldy, mrows, nb, ne)
                        : packed_dispatch<DType::F16, uint32_t>(w, xt, mb, y, ldy, mrows, nb, ne);
  }
}

}  // namespace avx512
}  // namespace sparsenn
#define SPARSENN_VARIANT avx512
#include "spmm_csr_blocked.inc"
#undef SPARSENN_VARIANT
#endif
