// matmulInputSparse(x, M, K, wt, wtDtype, N, y) and matmulInputSparseAsync(...):
// Y[M,N] = X[M,K] · W for a mostly-zero X, with W given transposed as Wt [K,N].
#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

namespace {

struct InputSparseArgs {
  F32View x;
  DenseView wt;
  MutF32View y;
  Napi::Value keep[3];
};

InputSparseArgs parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = arg_size(info, 1, "M");
  const int64_t K = arg_size(info, 2, "K", int64_t(1) << 31);  // row indices are int32
  const DType wt_dtype = arg_dtype(info, 4, "wtDtype");
  const int64_t N = arg_size(info, 5, "N");
  ArrayArg x = arg_array(info, 0, "x", DType::F32, checked_mul(env, M, K));
  ArrayArg wt = arg_array(info, 3, "wt", wt_dtype, checked_mul(env, K, N));
  ArrayArg y = arg_array(info, 6, "y", DType::F32, checked_mul(env, M, N));
  return InputSparseArgs{F32View{static_cast<const float*>(x.data), M, K}, DenseView{wt.data, wt_dtype, K, N},
                         MutF32View{static_cast<float*>(y.data), M, N}, {x.array, wt.array, y.array}};
}

Napi::Value MatmulInputSparse(const Napi::CallbackInfo& info) {
  InputSparseArgs a = parse(info);
  run_sync(info.Env(), [&] { matmul_input_sparse(a.x, a.wt, a.y); });
  return info.Env().Undefined();
}

Napi::Value MatmulInputSparseAsync(const Napi::CallbackInfo& info) {
  InputSparseArgs a = parse(info);
  return AsyncOp::Start(info.Env(), "sparsenn.matmulInputSparse", [a] { matmul_input_sparse(a.x, a.wt, a.y); },
                        {a.keep[0], a.keep[1], a.keep[2]});
}

}  // namespace

void register_input_sparse(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulInputSparse", Napi::Function::New(env, MatmulInputSparse, "matmulInputSparse"));
  exports.Set("matmulInputSparseAsync", Napi::Function::New(env, MatmulInputSparseAsync, "matmulInputSparseAsync"));
}

}  // namespace sparsenn::binding
