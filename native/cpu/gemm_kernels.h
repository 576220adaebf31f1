// The per-ISA dense matmul kernels behind matmul_dense (native/cpu/gemm.cc).
//
// gemm.cc owns the threading and the scratch memory; a variant only computes a
// slice of output columns [n_begin, n_end) on one thread. Keeping std::function
// and allocation out of the ISA-flagged files means no inline library code is
// ever compiled with AVX-512 flags and then picked by the linker for callers
// running on older CPUs.
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

struct DenseKernels {
  // Decode-sized M: every W row is read from memory once and applied to all X rows,
  // so the time is W's bytes over the memory bandwidth. Works for any M.
  void (*gemv_range)(const F32View& x, const DenseView& w, const MutF32View& y, int64_t n_begin, int64_t n_end);

  // Prefill-sized M (nullptr: the variant has no blocked kernel; gemv_range serves every M).
  // X is packed once into k-major panels of `panel_width(M)` rows (zero padded), so the
  // microkernel loads a vector of X rows and broadcasts one W element per output column.
  int64_t (*panel_width)(int64_t M);
  // Packs X rows [m0, m0 + width) (rows past M are zeros) into panel[k * width + i].
  void (*pack_x_panel)(const F32View& x, int64_t m0, int64_t width, float* panel);
  // Y[:, n_begin:n_end] from the packed panels (panel p starts at xp + p * K * width), using
  // `scratch` (gemm_scratch_floats(M, width) floats, one buffer per concurrent call).
  void (*gemm_range)(const float* xp, int64_t width, const F32View& x, const DenseView& w, const MutF32View& y,
                     int64_t n_begin, int64_t n_end, float* scratch);
  int64_t (*gemm_scratch_floats)(int64_t M, int64_t width);
  // Rows of W one cache block covers; thread slices are aligned to it.
  int64_t (*gemm_block_rows)(int64_t width);
  // Up to this many X rows gemv_range is faster than packing X for the blocked kernel
  // (measured per variant; the GEMV tile keeps W rows in L1/L2 across X row groups).
  int64_t gemv_max_rows;
};

namespace portable { extern const DenseKernels kDenseKernels; }
namespace avx2 { extern const DenseKernels kDenseKernels; }
namespace avx512 { extern const DenseKernels kDenseKernels; }

}  // namespace sparsenn
