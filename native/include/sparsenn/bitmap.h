// Bitmap-encoded unstructured sparse weights (lib/formats/bitmap.ts): per row of
// W [rows, cols], one 16-bit mask per group of 16 columns (bit i keeps column
// 16g + i) and the kept values packed in column order. No N-API here.
#pragma once
#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {

constexpr int64_t kBitmapGroup = 16;

// row_ptr has been checked by the binding (rows + 1 entries, monotone, 0 to nnz =
// the values' length). The masks have not: kernels check each row's popcounts
// against its offsets, and its last mask against cols, before reading its values.
struct BitmapView {
  const uint16_t* masks;  // [rows * groups]
  const uint32_t* row_ptr;
  const void* values;
  DType dtype;
  int64_t rows;
  int64_t cols;
  int64_t groups;  // ceil(cols / 16)
  int64_t nnz;
};

// Y[M,N] = X[M,K] · Wᵀ with W [N,K] bitmap-encoded. Returns false when some row's
// masks disagree with its offsets or keep a column >= K (that row is not computed).
bool matmul_bitmap(const F32View& x, const BitmapView& w, const MutF32View& y);

}  // namespace sparsenn
