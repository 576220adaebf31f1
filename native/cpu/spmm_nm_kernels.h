// The per-ISA N:M kernels behind matmul_nm (native/cpu/spmm_nm.cc), and the
// scalar position decoder they share for tails and the generic path.
#pragma once
#include <cstdint>

#include "sparsenn/convert.h"
#include "sparsenn/views.h"

namespace sparsenn {

// Computes Y[:, n_begin:n_end) for all M rows. `x` is [M, xs] with xs >= groups*m
// columns, zero past K (the dispatcher pads it), so every decoded position reads inside it.
// Columns [j_begin*32 .. j_end*32) only (2:4 kernels): a k-block; `accumulate` adds into Y.
using NmRangeFn = void (*)(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys,
                           int64_t n_begin, int64_t n_end);
using Nm24BlockFn = void (*)(const float* x, int64_t M, int64_t xs, const NmView& w, float* y, int64_t ys,
                             int64_t n_begin, int64_t n_end, int64_t word_begin, int64_t word_end, bool accumulate);

namespace portable {
void nm_generic_range(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t);
}
namespace avx2 {
void nm_generic_range(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t);
void nm24_block(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                bool);
}  // namespace avx2
// Prefill on packed X (see spmm_nm.cc): xp holds ceil(M/kNmPanelRows) panels of
// [Kp = groups*m][kNmPanelRows] floats (k-major, zero past M and K); writes Y[:, n0:n1).
constexpr int64_t kNmPanelRows = 64;
using NmPrefillFn = void (*)(const float* xp, int64_t Mp, int64_t Kp, const NmView& w, float* y, int64_t M, int64_t ys,
                             int64_t n0, int64_t n1);

// 2:4 prefill on packed X (spmm_nm_prefill.inc): xp holds Mp / panel panels of [Kx][panel] floats
// (k-major, zero past M and K; Kx = 32 * meta_words, so every metadata word's columns are inside);
// writes Y[:, n0:n1). The panel width (X rows per panel) is the variant's: 4 vectors.
constexpr int64_t kNm24PanelAvx512 = 64;
constexpr int64_t kNm24PanelAvx2 = 32;
constexpr int64_t kNm24BlockWords = 2;  // k-block: 64 columns, so a panel block is 16 KB / 8 KB (L1)
namespace avx2 {
void nm24_prefill_block(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t, int64_t);
}

namespace avx512 {
void nm24_prefill_block(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t, int64_t);
void nm_prefill_block(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t, int64_t);
void nm_generic_range(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t);
void nm24_block(const float*, int64_t, int64_t, const NmView&, float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                bool);
}  // namespace avx512

// Position (inside its group) of kept value i of a row whose metadata starts at `meta`.
// Reads a second word only when the field straddles two (3- and 5-bit positions).
inline uint32_t nm_position(const uint32_t* meta, int64_t i, int bits) {
  const int64_t bit = i * bits;
  const int64_t word = bit >> 5;
  const int off = int(bit & 31);
  uint32_t p = meta[word] >> off;
  if (off + bits > 32) p |= meta[word + 1] << (32 - off);
  return p & ((1u << bits) - 1u);
}

inline float nm_value(const NmView& w, int64_t flat) {
  if (w.dtype == DType::F32) return static_cast<const float*>(w.values)[flat];
  const uint16_t h = static_cast<const uint16_t*>(w.values)[flat];
  return w.dtype == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

// Σ over kept values [i_begin, i_end) of row n: value · x[column]. Scalar, for tails.
inline float nm_dot_scalar(const float* x, const NmView& w, int64_t n, int64_t i_begin, int64_t i_end) {
  const uint32_t* meta = w.meta + n * w.meta_words;
  const int64_t per_row = w.groups * w.n;
  float s = 0.f;
  for (int64_t i = i_begin; i < i_end; ++i) {
    const int64_t k = (i / w.n) * w.m + nm_position(meta, i, w.bits);
    s += nm_value(w, n * per_row + i) * x[k];
  }
  return s;
}

}  // namespace sparsenn
