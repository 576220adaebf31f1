// matmulNm(x, M, K, values, dtype, meta, N, n, m, y) and matmulNmAsync(...):
// Y[M,N] = X[M,K] · Wᵀ with W an N:M sparse [N,K] weight (lib/formats/nm.ts).
// Checks the pattern and every buffer length; the kernels mask decoded positions
// into the padded width, so arbitrary (corrupted) metadata cannot read out of bounds.
#include <string>

#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

namespace {

struct NmArgs {
  F32View x;
  NmView w;
  MutF32View y;
  Napi::Value keep[4];
};

NmArgs parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = arg_size(info, 1, "M");
  const int64_t K = arg_size(info, 2, "K", int64_t(1) << 31);
  const DType dt = arg_dtype(info, 4, "dtype");
  const int64_t N = arg_size(info, 6, "N");
  const int64_t n = arg_size(info, 7, "n", 64);
  const int64_t m = arg_size(info, 8, "m", 64);
  int bits = 0;
  while ((int64_t(1) << bits) < m) ++bits;
  if (m < 2 || m > 32 || (int64_t(1) << bits) != m)
    throw_coded(env, "ERR_ARG", "m must be a power of two from 2 to 32, got " + std::to_string(m));
  if (n < 1 || n > m)
    throw_coded(env, "ERR_ARG", "n must be in [1, m=" + std::to_string(m) + "], got " + std::to_string(n));
  const int64_t groups = (K + m - 1) / m;
  const int64_t per_row = groups * n;
  const int64_t meta_words = (per_row * bits + 31) / 32;
  ArrayArg x = arg_array(info, 0, "x", DType::F32, checked_mul(env, M, K));
  ArrayArg v = arg_array(info, 3, "values", dt, checked_mul(env, N, per_row));
  ArrayArg meta = arg_index_array(info, 5, "meta", napi_uint32_array, checked_mul(env, N, meta_words));
  ArrayArg y = arg_array(info, 9, "y", DType::F32, checked_mul(env, M, N));
  NmView w{v.data, dt, static_cast<const uint32_t*>(meta.data), N, K, int32_t(n), int32_t(m), bits, groups, meta_words};
  return NmArgs{F32View{static_cast<const float*>(x.data), M, K}, w, MutF32View{static_cast<float*>(y.data), M, N},
                {x.array, v.array, meta.array, y.array}};
}

Napi::Value MatmulNm(const Napi::CallbackInfo& info) {
  NmArgs a = parse(info);
  run_sync(info.Env(), [&] { matmul_nm(a.x, a.w, a.y); });
  return info.Env().Undefined();
}

Napi::Value MatmulNmAsync(const Napi::CallbackInfo& info) {
  NmArgs a = parse(info);
  return AsyncOp::Start(info.Env(), "sparsenn.matmulNm", [a] { matmul_nm(a.x, a.w, a.y); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3]});
}

}  // namespace

void register_nm(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulNm", Napi::Function::New(env, MatmulNm, "matmulNm"));
  exports.Set("matmulNmAsync", Napi::Function::New(env, MatmulNmAsync, "matmulNmAsync"));
}

}  // namespace sparsenn::binding
