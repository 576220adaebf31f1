// matmulDense(x, M, K, w, wDtype, N, y) and matmulDenseAsync(...): Y[M,N] = X[M,K] · Wᵀ.
#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

namespace {

struct MatmulArgs {
  F32View x;
  DenseView w;
  MutF32View y;
  Napi::Value keep[3];
};

MatmulArgs parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = arg_size(info, 1, "M");
  const int64_t K = arg_size(info, 2, "K");
  const DType wt = arg_dtype(info, 4, "wDtype");
  const int64_t N = arg_size(info, 5, "N");
  ArrayArg x = arg_array(info, 0, "x", DType::F32, checked_mul(env, M, K));
  ArrayArg w = arg_array(info, 3, "w", wt, checked_mul(env, N, K));
  ArrayArg y = arg_array(info, 6, "y", DType::F32, checked_mul(env, M, N));
  return MatmulArgs{F32View{static_cast<const float*>(x.data), M, K}, DenseView{w.data, wt, N, K},
                    MutF32View{static_cast<float*>(y.data), M, N}, {x.array, w.array, y.array}};
}

Napi::Value MatmulDense(const Napi::CallbackInfo& info) {
  MatmulArgs a = parse(info);
  run_sync(info.Env(), [&] { matmul_dense(a.x, a.w, a.y); });
  return info.Env().Undefined();
}

Napi::Value MatmulDenseAsync(const Napi::CallbackInfo& info) {
  MatmulArgs a = parse(info);
  return AsyncOp::Start(info.Env(), "sparsenn.matmulDense", [a] { matmul_dense(a.x, a.w, a.y); },
                        {a.keep[0], a.keep[1], a.keep[2]});
}

}  // namespace

void register_matmul(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulDense", Napi::Function::New(env, MatmulDense, "matmulDense"));
  exports.Set("matmulDenseAsync", Napi::Function::New(env, MatmulDenseAsync, "matmulDenseAsync"));
}

}  // namespace sparsenn::binding
