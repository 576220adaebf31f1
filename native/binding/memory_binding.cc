// adviseHugePages(view) -> bytes: asks for 2 MiB pages under a large typed array (a KV cache) so
// the kernels that stream it cross fewer pages (native/cpu/huge_pages.h).
// addressAlignment(view) -> address of the view's first byte modulo 4096, so TypeScript can place
// arrays on cache-line boundaries (lib/backend/aligned.ts); JavaScript cannot see addresses.
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

Napi::Value AddressAlignment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw_coded(env, "ERR_ARG", "addressAlignment: view must be a typed array");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  Napi::ArrayBuffer buffer = view.ArrayBuffer();
  if (buffer.IsDetached()) throw_coded(env, "ERR_ARG", "addressAlignment: the typed array's buffer is detached");
  const uintptr_t address = reinterpret_cast<uintptr_t>(buffer.Data()) + view.ByteOffset();
  return Napi::Number::New(env, double(address % 4096));
}

}  // namespace

void register_memory(Napi::Env env, Napi::Object exports) {
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("addressAlignment", Napi::Function::New(env, AddressAlignment, "addressAlignment"));
}

}  // namespace sparsenn::binding
