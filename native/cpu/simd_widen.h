// Weights stored as f32, bf16 or f16, loaded as f32 vectors: the widening step the x86 sparse
// kernels share. Include only from *_avx2.cc / *_avx512.cc files, after <immintrin.h>. The helpers
// live in an unnamed namespace so each variant file keeps its own copy, compiled for its own ISA
// (one shared inline definition could be linked into the AVX2 variant as AVX-512 code).
#pragma once
#include <immintrin.h>

#include <cstdint>

#include "sparsenn/views.h"

namespace sparsenn {
namespace {

#if defined(__AVX512F__)
// Elements [i, i + 16) of a DT array as f32.
template <DType DT>
inline __m512 widen16(const void* base, int64_t i) {
  if constexpr (DT == DType::F32) {
    return _mm512_loadu_ps(static_cast<const float*>(base) + i);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(base) + i));
    if constexpr (DT == DType::BF16) return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    else return _mm512_cvtph_ps(h);
  }
}
#endif

#if defined(__AVX2__) && defined(__F16C__)
// Elements [i, i + 8) of a DT array as f32.
template <DType DT>
inline __m256 widen8(const void* base, int64_t i) {
  if constexpr (DT == DType::F32) {
    return _mm256_loadu_ps(static_cast<const float*>(base) + i);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(base) + i));
    if constexpr (DT == DType::BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    else return _mm256_cvtph_ps(h);
  }
}
#endif

}  // namespace
}  // namespace sparsenn
