#include "args.h"

#include <cmath>

namespace sparsenn::binding {

void throw_coded(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  throw err;
}

int64_t arg_size(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t max) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsNumber())
    throw_coded(env, "ERR_ARG", std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || v < 0 || v != std::floor(v) || v > double(max))
    throw_coded(env, "ERR_SHAPE", std::string(name) + " must be a non-negative integer no larger than " +
                                      std::to_string(max) + ", got " + std::to_string(v));
  return int64_t(v);
}

float arg_scale(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw_coded(info.Env(), "ERR_ARG", "scale must be a number");
  const double s = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(s) || s <= 0) throw_coded(info.Env(), "ERR_ARG", "scale must be a positive finite number");
  return float(s);
}

DType arg_dtype(const Napi::CallbackInfo& info, size_t i, const char* name) {
  int64_t code = arg_size(info, i, name, 2);
  return static_cast<DType>(code);
}

static ArrayArg typed_array(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type want,
                            const char* want_name, int64_t min_elems) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsTypedArray())
    throw_coded(env, "ERR_DTYPE", std::string(name) + " must be a " + want_name);
  Napi::TypedArray arr = info[i].As<Napi::TypedArray>();
  if (arr.TypedArrayType() != want)
    throw_coded(env, "ERR_DTYPE", std::string(name) + " must be a " + want_name);
  const int64_t len = int64_t(arr.ElementLength());
  if (len < min_elems) {
    const bool detached = arr.ArrayBuffer().ByteLength() == 0 && min_elems > 0;
    throw_coded(env, detached ? "ERR_DETACHED" : "ERR_SHAPE",
                std::string(name) + (detached ? " is detached (its buffer was transferred)" : " is too short") +
                    ": needs " + std::to_string(min_elems) + " elements, has " + std::to_string(len));
  }
  uint8_t* base = static_cast<uint8_t*>(arr.ArrayBuffer().Data());
  return ArrayArg{arr, base ? base + arr.ByteOffset() : nullptr, len};
}

ArrayArg arg_array(const Napi::CallbackInfo& info, size_t i, const char* name, DType dtype, int64_t min_elems) {
  if (dtype == DType::F32) return typed_array(info, i, name, napi_float32_array, "Float32Array", min_elems);
  return typed_array(info, i, name, napi_uint16_array, "Uint16Array (bf16/f16 bits)", min_elems);
}

ArrayArg arg_index_array(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type,
                         int64_t min_elems) {
  const char* tname = type == napi_uint8_array ? "Uint8Array" : type == napi_uint16_array ? "Uint16Array" : "Uint32Array";
  return typed_array(info, i, name, type, tname, min_elems);
}

int64_t checked_mul(Napi::Env env, int64_t a, int64_t b) {
  constexpr int64_t kMax = int64_t(1) << 53;
  if (a != 0 && b > kMax / a) throw_coded(env, "ERR_SHAPE", "size overflow: " + std::to_string(a) + " x " + std::to_string(b));
  return a * b;
}

}  // namespace sparsenn::binding
