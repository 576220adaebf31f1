// adviseHugePages(view) -> bytes: asks for 2 MiB pages under a large typed array (a KV cache) so
// the kernels that stream it cross fewer pages (native/cpu/huge_pages.h).
#include "../cpu/huge_pages.h"
#include "args.h"
#include "registry.h"

namespace sparsenn::binding {

namespace {

Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw_coded(env, "ERR_ARG", "adviseHugePages: view must be a typed array");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  Napi::ArrayBuffer buffer = view.ArrayBuffer();
  if (buffer.IsDetached()) throw_coded(env, "ERR_ARG", "adviseHugePages: the typed array's buffer is detached");
  char* data = static_cast<char*>(buffer.Data()) + view.ByteOffset();
  const int64_t advised = advise_huge_pages(data, int64_t(view.ByteLength()));
  return Napi::Number::New(env, double(advised));
}

}  // namespace

void register_memory(Napi::Env env, Napi::Object exports) {
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
}

}  // namespace sparsenn::binding
