// One stored weight element (f32, bf16 or f16 bits) as f32: the scalar step of every sparse kernel's
// tail and reference loops. In an unnamed namespace, so each variant file compiles its own copy
// with its own flags (F16C's one-instruction conversion where the variant has it) and no variant
// links another's.
#pragma once
#include <cstdint>
#if defined(__F16C__)
#include <immintrin.h>
#endif

#include "sparsenn/convert.h"
#include "sparsenn/views.h"

namespace sparsenn {
namespace {

// Element j of a DT array as f32 (exact for every DT).
template <DType DT>
inline float element_f32(const void* v, int64_t j) {
  if constexpr (DT == DType::F32) {
    return static_cast<const float*>(v)[j];
  } else if constexpr (DT == DType::BF16) {
    return bf16_to_f32(static_cast<const uint16_t*>(v)[j]);
  } else {
#if defined(__F16C__)
    return _cvtsh_ss(static_cast<const uint16_t*>(v)[j]);
#else
    return f16_to_f32(static_cast<const uint16_t*>(v)[j]);
#endif
  }
}

}  // namespace
}  // namespace sparsenn
