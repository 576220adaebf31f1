// benchStreamRead(buf, threads) -> sum: the memory-bandwidth baseline for bench/ (a plain
// streaming read of a large Float32Array, returning the sum so it cannot be optimised away).
// benchGatherRead(a, b, rowBytes, rowStride, rows, threads) -> sum: a plain read of the same
// scattered rows of two typed arrays (rows[i] at byte rows[i] * rowStride), the floor for the
// token-list attention kernel.
#include <string>

#include "../cpu/gather_read.h"
#include "../cpu/stream_read.h"
#include "args.h"
#include "async_op.h"
#include "registry.h"

namespace sparsenn::binding {

namespace {

Napi::Value BenchStreamRead(const Napi::CallbackInfo& info) {
  ArrayArg buf = arg_array(info, 0, "buf", DType::F32, 0);
  const int64_t threads = arg_size(info, 1, "threads", 1024);
  if (threads < 1) throw_coded(info.Env(), "ERR_ARG", "threads must be at least 1");
  double sum = 0;
  run_sync(info.Env(), [&] { sum = stream_read_sum(static_cast<const float*>(buf.data), buf.length, int(threads)); });
  return Napi::Number::New(info.Env(), sum);
}

// A typed array's bytes (any element type); ERR_ARG when it is not one or is detached.
std::pair<const char*, int64_t> typed_bytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (i >= info.Length() || !info[i].IsTypedArray()) throw_coded(info.Env(), "ERR_ARG", std::string(name) + " must be a typed array");
  Napi::TypedArray t = info[i].As<Napi::TypedArray>();
  const char* base = static_cast<const char*>(t.ArrayBuffer().Data());
  if (base == nullptr && t.ByteLength() > 0) throw_coded(info.Env(), "ERR_ARG", std::string(name) + " is detached");
  return {base ? base + t.ByteOffset() : nullptr, int64_t(t.ByteLength())};
}

Napi::Value BenchGatherRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto [a, a_bytes] = typed_bytes(info, 0, "a");
  const auto [b, b_bytes] = typed_bytes(info, 1, "b");
  const int64_t row_bytes = arg_size(info, 2, "rowBytes", int64_t(1) << 30);
  const int64_t row_stride = arg_size(info, 3, "rowStride", int64_t(1) << 40);
  ArrayArg rows = arg_index_array(info, 4, "rows", napi_uint32_array, 0);
  const int64_t threads = arg_size(info, 5, "threads", 1024);
  if (threads < 1) throw_coded(env, "ERR_ARG", "threads must be at least 1");
  if (row_bytes < 8 || row_bytes % 8 != 0) throw_coded(env, "ERR_ARG", "rowBytes must be a positive multiple of 8");
  const uint32_t* r = static_cast<const uint32_t*>(rows.data);
  for (int64_t i = 0; i < rows.length; ++i) {
    const int64_t end = checked_mul(env, int64_t(r[i]), row_stride) + row_bytes;
    if (end > a_bytes || end > b_bytes) throw_coded(env, "ERR_ARG", "row " + std::to_string(r[i]) + " ends past an array");
  }
  double sum = 0;
  run_sync(env, [&] { sum = gather_read_sum(a, b, row_bytes, row_stride, r, rows.length, int(threads)); });
  return Napi::Number::New(env, sum);
}

}  // namespace

void register_bench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchStreamRead", Napi::Function::New(env, BenchStreamRead, "benchStreamRead"));
  exports.Set("benchGatherRead", Napi::Function::New(env, BenchGatherRead, "benchGatherRead"));
}

}  // namespace sparsenn::binding
