// The KV cache argument of the attention bindings (a KvCacheView of lib/attention/contract.ts):
// k and v checked against the last element any KV head, token and dim can address, so no stride
// or length a caller passes can make a kernel read past either buffer.
#pragma once
#include <cstdint>

#include "args.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

constexpr int64_t kMaxTokens = int64_t(1) << 31;  // token and page ids travel as 32-bit integers

struct KvArgs {
  KvView view;
  Napi::Value k, v;  // kept alive while an async op runs
};

// Elements a buffer must hold for every (KV head, token, dim) these sizes address: the last one's
// index + 1, or 0 for an empty cache (kv_heads >= 1; ERR_SHAPE on overflow).
int64_t kv_extent(Napi::Env env, int64_t kv_heads, int64_t length, int64_t head_dim, int64_t head_stride, int64_t token_stride);

// k at argument k_at, v at k_at + 1, both of dtype `dt`; the sizes were read by the caller (each
// binding orders its own arguments).
KvArgs kv_arrays(const Napi::CallbackInfo& info, size_t k_at, DType dt, int64_t kv_heads, int64_t length, int64_t head_dim,
                 int64_t head_stride, int64_t token_stride);

}  // namespace sparsenn::binding
