// Typed-array -> kernel view conversion with validation. Every check that the
// TypeScript layer makes is repeated here, so a direct call into the addon with
// bad arguments throws a coded error instead of reading out of bounds.
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>

#include "sparsenn/views.h"

namespace sparsenn::binding {

// Throws a JS Error whose `code` property is `code` (ERR_SHAPE, ERR_DTYPE, ERR_ARG, ...).
[[noreturn]] void throw_coded(Napi::Env env, const char* code, const std::string& message);

// Reads argument i as a non-negative safe integer no larger than `max`.
int64_t arg_size(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t max = (int64_t(1) << 40));

// Reads argument i as a dtype code (0 f32, 1 bf16, 2 f16).
DType arg_dtype(const Napi::CallbackInfo& info, size_t i, const char* name);

// A typed array argument with at least `min_elems` elements of the element type
// that `dtype` implies (Float32Array for f32, Uint16Array for bf16/f16).
struct ArrayArg {
  Napi::TypedArray array;
  void* data;
  int64_t length;
};
ArrayArg arg_array(const Napi::CallbackInfo& info, size_t i, const char* name, DType dtype, int64_t min_elems);

// A typed array argument of an integer type (Uint8/16/32Array) with at least min_elems elements.
ArrayArg arg_index_array(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
                         int64_t min_elems);

// An attention softmax scale: a positive finite number (ERR_ARG otherwise).
float arg_scale(const Napi::CallbackInfo& info, size_t i);

// a*b with overflow check against the 2^53 limit of JS numbers.
int64_t checked_mul(Napi::Env env, int64_t a, int64_t b);

}  // namespace sparsenn::binding
