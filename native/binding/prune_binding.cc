// choleskyInverseUpper(h, k, u) -> status and sparsegptSweep(w, rows, cols, u, mask, n, m, block, counts),
// each with an Async form: the native side of lib/prune/sparsegpt.ts.
#include <cmath>

#include "args.h"
#include "async_op.h"
#include "registry.h"
#include "sparsenn/prune_ops.h"

namespace sparsenn::binding {

namespace {

// A Float64Array argument with at least min_elems elements.
double* arg_f64(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min_elems, Napi::Value* keep) {
  Napi::Env env = info.Env();
  if (i >= info.Length() || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array)
    throw_coded(env, "ERR_DTYPE", std::string(name) + " must be a Float64Array");
  Napi::TypedArray arr = info[i].As<Napi::TypedArray>();
  if (int64_t(arr.ElementLength()) < min_elems)
    throw_coded(env, arr.ArrayBuffer().ByteLength() == 0 && min_elems > 0 ? "ERR_DETACHED" : "ERR_SHAPE",
                std::string(name) + " is too short: needs " + std::to_string(min_elems) + " elements, has " +
                    std::to_string(arr.ElementLength()));
  *keep = arr;
  return reinterpret_cast<double*>(static_cast<uint8_t*>(arr.ArrayBuffer().Data()) + arr.ByteOffset());
}

struct CholeskyArgs {
  const double* h;
  double* u;
  int64_t k;
  Napi::Value keep[2];
};

CholeskyArgs parse_cholesky(const Napi::CallbackInfo& info) {
  CholeskyArgs a{};
  a.k = arg_size(info, 1, "k", int64_t(1) << 20);
  const int64_t kk = checked_mul(info.Env(), a.k, a.k);
  a.h = arg_f64(info, 0, "h", kk, &a.keep[0]);
  a.u = arg_f64(info, 2, "u", kk, &a.keep[1]);
  return a;
}

Napi::Value CholeskyInverseUpper(const Napi::CallbackInfo& info) {
  CholeskyArgs a = parse_cholesky(info);
  int64_t status = 0;
  run_sync(info.Env(), [&] { status = cholesky_inverse_upper(a.h, a.k, a.u); });
  return Napi::Number::New(info.Env(), double(status));
}

// The async form resolves to undefined, so the status goes into u[0]'s place when
// the factorisation fails: u[0] = NaN and the failing pivot + 1 in u[1] (when k > 1).
Napi::Value CholeskyInverseUpperAsync(const Napi::CallbackInfo& info) {
  CholeskyArgs a = parse_cholesky(info);
  return AsyncOp::Start(
      info.Env(), "sparsenn.choleskyInverseUpper",
      [a] {
        const int64_t status = cholesky_inverse_upper(a.h, a.k, a.u);
        if (status != 0) {
          if (a.k > 0) a.u[0] = std::nan("");
          if (a.k > 1) a.u[1] = double(status);
        }
      },
      {a.keep[0], a.keep[1]});
}

struct SweepArgs {
  float* w;
  int64_t rows, cols;
  const float* u;
  uint8_t* mask;
  SparsegptPlan plan;
  Napi::Value keep[4];
};

SweepArgs parse_sweep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SweepArgs a{};
  a.rows = arg_size(info, 1, "rows");
  a.cols = arg_size(info, 2, "cols", int64_t(1) << 24);
  const int64_t n = arg_size(info, 5, "n", 255);
  const int64_t m = arg_size(info, 6, "m", 255);
  const int64_t block = arg_size(info, 7, "block", int64_t(1) << 24);
  if (m > 0 && (n >= m)) throw_coded(env, "ERR_ARG", "N:M needs N < M");
  if (block < 1 || (m > 0 && block % m != 0))
    throw_coded(env, "ERR_ARG", "block must be positive, and a multiple of M with N:M");
  const int64_t blocks = a.cols == 0 ? 0 : (a.cols + block - 1) / block;
  const int64_t wn = checked_mul(env, a.rows, a.cols);
  ArrayArg w = arg_array(info, 0, "w", DType::F32, wn);
  ArrayArg u = arg_array(info, 3, "u", DType::F32, checked_mul(env, a.cols, a.cols));
  ArrayArg mask = arg_index_array(info, 4, "mask", napi_uint8_array, wn);
  ArrayArg counts = arg_index_array(info, 8, "counts", napi_uint32_array, m == 0 ? blocks : 0);
  a.w = static_cast<float*>(w.data);
  a.u = static_cast<const float*>(u.data);
  a.mask = static_cast<uint8_t*>(mask.data);
  a.plan = SparsegptPlan{int32_t(n), int32_t(m), block, static_cast<const uint32_t*>(counts.data)};
  a.keep[0] = w.array;
  a.keep[1] = u.array;
  a.keep[2] = mask.array;
  a.keep[3] = counts.array;
  return a;
}

Napi::Value SparsegptSweep(const Napi::CallbackInfo& info) {
  SweepArgs a = parse_sweep(info);
  run_sync(info.Env(), [&] { sparsegpt_sweep(a.w, a.rows, a.cols, a.u, a.mask, a.plan); });
  return info.Env().Undefined();
}

Napi::Value SparsegptSweepAsync(const Napi::CallbackInfo& info) {
  SweepArgs a = parse_sweep(info);
  return AsyncOp::Start(info.Env(), "sparsenn.sparsegptSweep",
                        [a] { sparsegpt_sweep(a.w, a.rows, a.cols, a.u, a.mask, a.plan); },
                        {a.keep[0], a.keep[1], a.keep[2], a.keep[3]});
}

}  // namespace

void register_prune(Napi::Env env, Napi::Object exports) {
  exports.Set("choleskyInverseUpper", Napi::Function::New(env, CholeskyInverseUpper, "choleskyInverseUpper"));
  exports.Set("choleskyInverseUpperAsync", Napi::Function::New(env, CholeskyInverseUpperAsync, "choleskyInverseUpperAsync"));
  exports.Set("sparsegptSweep", Napi::Function::New(env, SparsegptSweep, "sparsegptSweep"));
  exports.Set("sparsegptSweepAsync", Napi::Function::New(env, SparsegptSweepAsync, "sparsegptSweepAsync"));
}

}  // namespace sparsenn::binding
