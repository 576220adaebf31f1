// adviseHugePages(view) -> bytes: asks for 2 MiB pages under a large typed array (a KV cache) so
// the kernels that stream it cross fewer pages (native/cpu/huge_pages.h).
// addressAlignment(view) -> address of the view's first byte modulo 2 MiB, so TypeScript can place
// arrays on cache-line or huge-page boundaries (lib/backend/aligned.ts); JavaScript cannot see
// addresses.
#include <string>

#include "../cpu/huge_pages.h"
#include "args.h"
#include "registry.h"

namespace sparsenn::binding {

namespace {

// The first argument as a typed array's bytes (its own range of a live buffer); `fn` names the caller in errors.
struct ViewBytes {
  char* data;
  int64_t length;
};
ViewBytes view_bytes(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray())
    throw_coded(env, "ERR_ARG", std::string(fn) + ": view must be a typed array");
  Napi::TypedArray view = info[0].As<Napi::TypedArray>();
  Napi::ArrayBuffer buffer = view.ArrayBuffer();
  if (buffer.IsDetached()) throw_coded(env, "ERR_ARG", std::string(fn) + ": the typed array's buffer is detached");
  return {static_cast<char*>(buffer.Data()) + view.ByteOffset(), int64_t(view.ByteLength())};
}

Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  const ViewBytes v = view_bytes(info, "adviseHugePages");
  return Napi::Number::New(info.Env(), double(advise_huge_pages(v.data, v.length)));
}

Napi::Value AddressAlignment(const Napi::CallbackInfo& info) {
  const ViewBytes v = view_bytes(info, "addressAlignment");
  return Napi::Number::New(info.Env(), double(reinterpret_cast<uintptr_t>(v.data) % (uintptr_t(2) << 20)));
}

}  // namespace

void register_memory(Napi::Env env, Napi::Object exports) {
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("addressAlignment", Napi::Function::New(env, AddressAlignment, "addressAlignment"));
}

}  // namespace sparsenn::binding
