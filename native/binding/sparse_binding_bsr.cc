// matmulBsr(x, M, K, blockRowPtr, blockCol, values, wDtype, N, br, bc, y) and
// matmulBsrAsync(...): Y[M,N] = X[M,K] · Wᵀ with W [N,K] block-sparse.
//
// As for CSR: block-row pointers are copied and checked here (start at 0, never
// decrease, end at nblocks = blockCol.length, values = nblocks·br·bc); block
// columns are checked by the kernel as it reads them (one compare per block),
// and an out-of-range one makes the call throw ERR_FORMAT.
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/ops.h"

namespace sparsenn::binding {

namespace {

// Kernels keep a few blocks' worth of f32 scratch per X row; 64K elements is far beyond any useful block.
constexpr int64_t kMaxBlockElements = 65536;

struct BsrArgs {
  F32View x;
  BsrView w;
  MutF32View y;
  std::shared_ptr<std::vector<uint32_t>> block_row_ptr;  // the checked copy w.block_row_ptr points into
  Napi::Value keep[5];
};

BsrArgs parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t M = arg_size(info, 1, "M");
  const int64_t K = arg_size(info, 2, "K", (int64_t(1) << 31) - 1);
  const DType wt = arg_dtype(info, 6, "wDtype");
  const int64_t N = arg_size(info, 7, "N", (int64_t(1) << 31) - 1);
  const int64_t br = arg_size(info, 8, "br", kMaxBlockElements);
  const int64_t bc = arg_size(info, 9, "bc", kMaxBlockElements);
  if (br < 1 || bc < 1 || br * bc > kMaxBlockElements)
    throw_coded(env, "ERR_ARG", "block [" + std::to_string(br) + ", " + std::to_string(bc) +
                                    "] must have positive sides and at most 65536 elements");
  ArrayArg x = arg_array(info, 0, "x", DType::F32, checked_mul(env, M, K));
  ArrayArg y = arg_array(info, 10, "y", DType::F32, checked_mul(env, M, N));
  const int64_t NB = (N + br - 1) / br;
  ArrayArg rp = arg_index_array(info, 3, "blockRowPtr", napi_uint32_array, NB + 1);
  if (!info[4].IsTypedArray()) throw_coded(env, "ERR_DTYPE", "blockCol must be a Uint16Array or Uint32Array");
  const napi_typedarray_type it = info[4].As<Napi::TypedArray>().TypedArrayType();
  if (it != napi_uint16_array && it != napi_uint32_array)
    throw_coded(env, "ERR_DTYPE", "blockCol must be a Uint16Array or Uint32Array");
  ArrayArg col = arg_index_array(info, 4, "blockCol", it, 0);
  ArrayArg vals = arg_array(info, 5, "values", wt, 0);

  auto ptr = std::make_shared<std::vector<uint32_t>>(static_cast<const uint32_t*>(rp.data),
                                                     static_cast<const uint32_t*>(rp.data) + NB + 1);
  const std::vector<uint32_t>& p = *ptr;
  if (p[0] != 0) throw_coded(env, "ERR_FORMAT", "BSR blockRowPtr[0] must be 0, got " + std::to_string(p[0]));
  for (int64_t r = 0; r < NB; ++r)
    if (p[size_t(r) + 1] < p[size_t(r)])
      throw_coded(env, "ERR_FORMAT", "BSR blockRowPtr decreases at block row " + std::to_string(r));
  const int64_t nblocks = p[size_t(NB)];
  if (nblocks != col.length || checked_mul(env, nblocks, br * bc) != vals.length)
    throw_coded(env, "ERR_FORMAT", "BSR blockRowPtr ends at " + std::to_string(nblocks) + " blocks but blockCol has " +
                                       std::to_string(col.length) + " entries and values " +
                                       std::to_string(vals.length) + " (expected blocks x " + std::to_string(br * bc) + ")");
  BsrView w{ptr->data(), col.data, it == napi_uint16_array ? 16 : 32, vals.data, wt, N, K, br, bc, nblocks};
  return BsrArgs{F32View{static_cast<const float*>(x.data), M, K}, w, MutF32View{static_cast<float*>(y.data), M, N},
                 ptr, {x.array, col.array, vals.array, y.array, rp.array}};
}

void run(const BsrArgs& a) {
  if (!matmul_bsr(a.x, a.w, a.y))
    throw CodedError("ERR_FORMAT", "BSR blockCol holds a block column past the padded width of K = " +
                                       std::to_string(a.w.cols));
}

Napi::Value MatmulBsr(const Napi::CallbackInfo& info) {
  BsrArgs a = parse(info);
  run_sync(info.Env(), [&] { run(a); });
  return info.Env().Undefined();
}

Napi::Value MatmulBsrAsync(const Napi::CallbackInfo& info) {
  BsrArgs a = parse(info);
  return AsyncOp::Start(info.Env(), "sparsenn.matmulBsr", [a] { run(a); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3], a.keep[4]});
}

}  // namespace

void register_sparse_bsr(Napi::Env env, Napi::Object exports) {
  exports.Set("matmulBsr", Napi::Function::New(env, MatmulBsr, "matmulBsr"));
  exports.Set("matmulBsrAsync", Napi::Function::New(env, MatmulBsrAsync, "matmulBsrAsync"));
}

}  // namespace sparsenn::binding
