// Each binding file exposes one register_* function; addon.cc calls them all.
#pragma once
#include <napi.h>

namespace sparsenn::binding {

void register_info(Napi::Env env, Napi::Object exports);
void register_prune(Napi::Env env, Napi::Object exports);
void register_matmul(Napi::Env env, Napi::Object exports);
void register_sparse_csr(Napi::Env env, Napi::Object exports);
void register_sparse_bsr(Napi::Env env, Napi::Object exports);
void register_bench(Napi::Env env, Napi::Object exports);
void register_nm(Napi::Env env, Napi::Object exports);
void register_input_sparse(Napi::Env env, Napi::Object exports);
void register_attention(Napi::Env env, Napi::Object exports);
void register_attention_select(Napi::Env env, Napi::Object exports);
void register_bitmap(Napi::Env env, Napi::Object exports);
void register_memory(Napi::Env env, Napi::Object exports);

}  // namespace sparsenn::binding
