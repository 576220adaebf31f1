// Module init: registers functions and nothing else (as sharp does).
#include <napi.h>

#include "registry.h"

namespace sparsenn::binding {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  register_info(env, exports);
  register_prune(env, exports);
  register_matmul(env, exports);
  register_sparse_csr(env, exports);
  register_sparse_bsr(env, exports);
  register_bench(env, exports);
  register_nm(env, exports);
  register_input_sparse(env, exports);
  register_attention(env, exports);
  register_attention_select(env, exports);
  register_bitmap(env, exports);
  register_memory(env, exports);
  return exports;
}

}  // namespace sparsenn::binding

static Napi::Object InitSparsenn(Napi::Env env, Napi::Object exports) {
  return sparsenn::binding::Init(env, exports);
}

NODE_API_MODULE(sparsenn, InitSparsenn)
