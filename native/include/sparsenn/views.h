// Plain C++ views over caller-owned memory. No N-API here: the binding layer
// validates JS inputs and builds these; kernels only read/write through them.
#pragma once
#include <cstdint>

namespace sparsenn {

// Element type of stored weights. Activations are always f32.
enum class DType : int32_t { F32 = 0, BF16 = 1, F16 = 2 };

inline int64_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

// A row-major [rows, cols] matrix of f32 / bf16 / f16 elements.
struct DenseView {
  const void* data;
  DType dtype;
  int64_t rows;
  int64_t cols;
};

// A row-major f32 matrix the kernel writes into.
struct MutF32View {
  float* data;
  int64_t rows;
  int64_t cols;
};

// A row-major f32 matrix the kernel only reads (activations).
struct F32View {
  const float* data;
  int64_t rows;
  int64_t cols;
};

}  // namespace sparsenn
