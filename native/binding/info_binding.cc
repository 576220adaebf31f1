// info() -> { simd, threads }; setThreads(n).
#include "../cpu/isa.h"
#include "../cpu/threadpool.h"
#include "args.h"
#include "registry.h"

namespace sparsenn::binding {

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("simd", Napi::String::New(env, isa_name(active_isa())));
  o.Set("threads", Napi::Number::New(env, thread_count()));
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int64_t n = arg_size(info, 0, "threads", 1024);
  if (n < 1) throw_coded(info.Env(), "ERR_ARG", "threads must be at least 1");
  set_thread_count(int(n));
  return Napi::Number::New(info.Env(), thread_count());
}

}  // namespace

void register_info(Napi::Env env, Napi::Object exports) {
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
}

}  // namespace sparsenn::binding
