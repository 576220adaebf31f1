// matmulBitmap(x, M, K, masks, rowPtr, values, wDtype, N, y) and matmulBitmapAsync(...):
// Y[M,N] = X[M,K] · Wᵀ with W [N,K] bitmap-encoded (lib/formats/bitmap.ts).
//
// The binding trusts nothing in the arrays. Row offsets are copied (so an async call
// cannot see them change under it) and checked here in O(N): they start at 0, never
// decrease and end at values.length; masks must number N·ceil(K/16). Each row's
// masks are checked by the kernels just before the row is computed (popcounts against
// its offsets, no column >= K), since a separate pass would re-read the masks from
// memory in a memory-bound decode; a mismatch makes the call throw ERR_FORMAT.
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/bitmap.h"

namespace sparsenn::binding {

namespace {

struct BitmapArgs {
  F32View x;
  BitmapView w;
  MutF32View y;
  std::shared_ptr<std::vector<uint32_t>> row_ptr;  // the checked copy w.row_ptr points into
  Napi::Value keep[5];
};

BitmapArgs parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = arg_size(info, 1, "M");
  const int64_t K = arg_size(info, 2, "K", (int64_t(1) << 31) - 1);  // prefill runs the CSR kernel on 32-bit indices
  const DType wt = arg_dtype(info, 6, "wDtype");
  const int64_t N = arg_size(info, 7, "N", (int64_t(1) << 32) - 2);
  const int64_t G = (K + kBitmapGroup - 1) / kBitmapGroup;
  ArrayArg x = arg_array(info, 0, "x", DType::F32, checked_mul(env, M, K));
  ArrayArg y = arg_array(info, 8, "y", DType::F32, checked_mul(env, M, N));
  ArrayArg mk = arg_index_array(info, 3, "masks", napi_uint16_array, checked_mul(env, N, G));
  ArrayArg rp = arg_index_array(info, 4, "rowPtr", napi_uint32_array, N + 1);
  ArrayArg vals = arg_array(info, 5, "values", wt, 0);
  if (mk.length != N * G)
    throw_coded(env, "ERR_FORMAT", "bitmap masks have " + std::to_string(mk.length) + " entries, expected " +
                                       std::to_string(N * G) + " (N x ceil(K / 16))");
  if (rp.length != N + 1)
    throw_coded(env, "ERR_FORMAT", "bitmap rowPtr has " + std::to_string(rp.length) + " entries, expected " +
                                       std::to_string(N + 1));

  auto row_ptr = std::make_shared<std::vector<uint32_t>>(static_cast<const uint32_t*>(rp.data),
                                                         static_cast<const uint32_t*>(rp.data) + N + 1);
  const std::vector<uint32_t>& p = *row_ptr;
  if (p[0] != 0) throw_coded(env, "ERR_FORMAT", "bitmap rowPtr[0] must be 0, got " + std::to_string(p[0]));
  for (int64_t n = 0; n < N; ++n)
    if (p[size_t(n) + 1] < p[size_t(n)])
      throw_coded(env, "ERR_FORMAT", "bitmap rowPtr decreases at row " + std::to_string(n) + " (" +
                                         std::to_string(p[size_t(n)]) + " -> " + std::to_string(p[size_t(n) + 1]) + ")");
  const int64_t nnz = p[size_t(N)];
  if (nnz != vals.length)
    throw_coded(env, "ERR_FORMAT", "bitmap rowPtr[N] = " + std::to_string(nnz) + " but there are " +
                                       std::to_string(vals.length) + " values");
  BitmapView w{static_cast<const uint16_t*>(mk.data), row_ptr->data(), vals.data, wt, N, K, G, nnz};
  return BitmapArgs{F32View{static_cast<const float*>(x.data), M, K}, w, MutF32View{static_cast<float*>(y.data), M, N},
                    row_ptr, {x.array, mk.array, vals.array, y.array, rp.array}};
}

void run(const BitmapArgs& a) {
  if (!matmul_bitmap(a.x, a.w, a.y))
    throw CodedError("ERR_FORMAT", "bitmap masks disagree with rowPtr (a row's popcounts differ from its value count, "
                                   "or a mask keeps a column >= K = " + std::to_string(a.w.cols) + ")");
}

Napi::Value MatmulBitmap(const Napi::CallbackInfo& info) {
  BitmapArgs a = parse(info);
  run_sync(info.Env(), [&] { run(a); });
  return info.Env().Undefined();
}

Napi::Value MatmulBitmapAsync(const Napi::CallbackInfo& info) {
  BitmapArgs a = parse(info);
  return AsyncOp::Start(info.Env(), "sparsenn.matmulBitmap", [a] { run(a); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3], a.keep[4]});
}

}  // namespace

void register_bitmap(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulBitmap", Napi::Function::New(env, MatmulBitmap, "matmulBitmap"));
  exports.Set("matmulBitmapAsync", Napi::Function::New(env, MatmulBitmapAsync, "matmulBitmapAsync"));
}

}  // namespace sparsenn::binding
