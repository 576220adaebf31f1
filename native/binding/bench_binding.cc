// benchStreamRead(buf, threads) -> sum: the memory-bandwidth baseline for bench/ (a plain
// streaming read of a large Float32Array, returning the sum so it cannot be optimised away).
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

}  // namespace

void register_bench(Napi::Env env, Napi::Object exports) {
  exports.Set("benchStreamRead", Napi::Function::New(env, BenchStreamRead, "benchStreamRead"));
}

}  // namespace sparsenn::binding
