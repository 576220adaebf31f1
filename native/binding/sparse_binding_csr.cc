// matmulCsr(x, M, K, rowPtr, colIdx, values, wDtype, N, y) and matmulCsrAsync(...):
// Y[M,N] = X[M,K] · Wᵀ with W [N,K] in CSR.
//
// The binding trusts nothing in the CSR arrays. Row pointers are copied (so an
// async call cannot see them change under it) and checked here in O(N): they
// start at 0, never decrease, and end at nnz = colIdx.length = values.length.
// Column indices are checked by the kernels as they stream them (one compare per
// 16 indices), because a separate O(nnz) pass would cost a large share of a
// memory-bound decode; an index >= K makes the call throw ERR_FORMAT.
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

namespace {

struct CsrArgs {
  F32View x;
  CsrView w;
  MutF32View y;
  std::shared_ptr<std::vector<uint32_t>> row_ptr;  // the checked copy w.row_ptr points into
  Napi::Value keep[5];
};

CsrArgs parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = arg_size(info, 1, "M");
  const int64_t K = arg_size(info, 2, "K", (int64_t(1) << 31) - 1);  // gathers use 32-bit indices
  const DType wt = arg_dtype(info, 6, "wDtype");
  const int64_t N = arg_size(info, 7, "N", (int64_t(1) << 32) - 2);
  ArrayArg x = arg_array(info, 0, "x", DType::F32, checked_mul(env, M, K));
  ArrayArg y = arg_array(info, 8, "y", DType::F32, checked_mul(env, M, N));
  ArrayArg rp = arg_index_array(info, 3, "rowPtr", napi_uint32_array, N + 1);
  if (!info[4].IsTypedArray()) throw_coded(env, "ERR_DTYPE", "colIdx must be a Uint16Array or Uint32Array");
  const napi_typedarray_type it = info[4].As<Napi::TypedArray>().TypedArrayType();
  if (it != napi_uint16_array && it != napi_uint32_array)
    throw_coded(env, "ERR_DTYPE", "colIdx must be a Uint16Array or Uint32Array");
  ArrayArg ci = arg_index_array(info, 4, "colIdx", it, 0);
  ArrayArg vals = arg_array(info, 5, "values", wt, 0);

  auto row_ptr = std::make_shared<std::vector<uint32_t>>(static_cast<const uint32_t*>(rp.data),
                                                         static_cast<const uint32_t*>(rp.data) + N + 1);
  const std::vector<uint32_t>& p = *row_ptr;
  if (p[0] != 0) throw_coded(env, "ERR_FORMAT", "CSR rowPtr[0] must be 0, got " + std::to_string(p[0]));
  for (int64_t n = 0; n < N; ++n)
    if (p[size_t(n) + 1] < p[size_t(n)])
      throw_coded(env, "ERR_FORMAT", "CSR rowPtr decreases at row " + std::to_string(n) + " (" +
                                         std::to_string(p[size_t(n)]) + " -> " + std::to_string(p[size_t(n) + 1]) + ")");
  const int64_t nnz = p[size_t(N)];
  if (nnz != ci.length || nnz != vals.length)
    throw_coded(env, "ERR_FORMAT", "CSR rowPtr[N] = " + std::to_string(nnz) + " but colIdx has " +
                                       std::to_string(ci.length) + " and values " + std::to_string(vals.length) +
                                       " entries");
  CsrView w{row_ptr->data(), ci.data, it == napi_uint16_array ? 16 : 32, vals.data, wt, N, K, nnz};
  return CsrArgs{F32View{static_cast<const float*>(x.data), M, K}, w, MutF32View{static_cast<float*>(y.data), M, N},
                 row_ptr, {x.array, ci.array, vals.array, y.array, rp.array}};
}

void run(const CsrArgs& a) {
  if (!matmul_csr(a.x, a.w, a.y))
    throw CodedError("ERR_FORMAT", "CSR colIdx holds a column index >= K = " + std::to_string(a.w.cols));
}

Napi::Value MatmulCsr(const Napi::CallbackInfo& info) {
  CsrArgs a = parse(info);
  run_sync(info.Env(), [&] { run(a); });
  return info.Env().Undefined();
}

Napi::Value MatmulCsrAsync(const Napi::CallbackInfo& info) {
  CsrArgs a = parse(info);
  return AsyncOp::Start(info.Env(), "sparsenn.matmulCsr", [a] { run(a); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3], a.keep[4]});
}

}  // namespace

void register_sparse_csr(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulCsr", Napi::Function::New(env, MatmulCsr, "matmulCsr"));
  exports.Set("matmulCsrAsync", Napi::Function::New(env, MatmulCsrAsync, "matmulCsrAsync"));
}

}  // namespace sparsenn::binding
