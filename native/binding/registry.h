// Each binding file exposes one register_* function; addon.cc calls them all.
#pragma once
#include <napi.h>

namespace sparsenn::binding {

void register_info(Napi::Env env, Napi::Object exports);
void register_matmul(Napi::Env env, Napi::Object exports);

}  // namespace sparsenn::binding
