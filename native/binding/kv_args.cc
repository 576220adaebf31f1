#include "kv_args.h"

namespace sparsenn::binding {

int64_t kv_extent(Napi::Env env, int64_t kv_heads, int64_t length, int64_t head_dim, int64_t head_stride, int64_t token_stride) {
  if (length <= 0 || head_dim <= 0) return 0;
  return checked_mul(env, kv_heads - 1, head_stride) + checked_mul(env, length - 1, token_stride) + head_dim;
}

KvArgs kv_arrays(const Napi::CallbackInfo& info, size_t k_at, DType dt, int64_t kv_heads, int64_t length, int64_t head_dim,
                 int64_t head_stride, int64_t token_stride) {
  Napi::Env env = info.Env();
  if (kv_heads < 1) throw_coded(env, "ERR_SHAPE", "kvHeads must be at least 1");
  const int64_t need = kv_extent(env, kv_heads, length, head_dim, head_stride, token_stride);
  ArrayArg k = arg_array(info, k_at, "k", dt, need);
  ArrayArg v = arg_array(info, k_at + 1, "v", dt, need);
  return KvArgs{KvView{k.data, v.data, dt, kv_heads, length, head_dim, head_stride, token_stride}, k.array, v.array};
}

}  // namespace sparsenn::binding
