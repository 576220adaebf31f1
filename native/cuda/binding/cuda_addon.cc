// N-API surface of the optional CUDA addon (sparsenn_cuda.node). Compiled by the host C++
// compiler; everything CUDA sits behind native/cuda/cuda_ops.h. Loaded only after a child
// process has run selfTest() successfully (lib/backend/cuda.ts), so a broken build or driver
// cannot take the main process down.
//
//   deviceInfo() -> { name, major, minor, totalMemory, smCount, driverVersion, runtimeVersion, count }
//   selfTest() -> "" or what failed
//   uploadDense(w, dtype, rows, cols) / uploadNm(values, positions, n, m, dtype, rows, cols) /
//   uploadCsr(rowPtr, colIdx, values, dtype, rows, cols) /
//   uploadBsr(blockRowPtr, blockCol, values, dtype, rows, cols, blockRows, blockCols)
//     -> CudaWeight { bytes, kind, dispose() }
//   matmul(weight, x, M, y) and matmulAsync(weight, x, M, y): y[M, rows] = x[M, cols] · Wᵀ
#include <napi.h>

#include <atomic>
#include <string>

#include "../../binding/args.h"
#include "../../binding/async_op.h"
#include "../cuda_ops.h"

namespace sparsenn::cuda_binding {

using binding::ArrayArg;
using binding::arg_array;
using binding::arg_dtype;
using binding::arg_index_array;
using binding::arg_size;
using binding::checked_mul;
using binding::CodedError;
using binding::throw_coded;
using cuda::CudaError;
using cuda::DeviceWeight;

template <typename F>
auto guarded(Napi::Env env, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const CudaError& e) {
    throw_coded(env, e.code.c_str(), e.what());
  } catch (const std::exception& e) {
    throw_coded(env, "ERR_NATIVE", e.what());
  }
}

class CudaWeight : public Napi::ObjectWrap<CudaWeight> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CudaWeight",
                       {InstanceMethod("dispose", &CudaWeight::Dispose), InstanceAccessor("bytes", &CudaWeight::Bytes, nullptr),
                        InstanceAccessor("kind", &CudaWeight::Kind, nullptr),
                        InstanceAccessor("rows", &CudaWeight::Rows, nullptr),
                        InstanceAccessor("cols", &CudaWeight::Cols, nullptr)});
  }

  static Napi::Object Wrap(Napi::Env env, const DeviceWeight& w) {
    Napi::Object obj = constructor->New({});
    CudaWeight* self = Unwrap(obj);
    self->w_ = w;
    Napi::MemoryManagement::AdjustExternalMemory(env, w.bytes);
    return obj;
  }

  explicit CudaWeight(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CudaWeight>(info) {}
  // Collected without dispose(): give the memory back to the device and to V8's accounting.
  void Finalize(Napi::Env env) override {
    if (!disposed_ && w_.bytes > 0) Napi::MemoryManagement::AdjustExternalMemory(env, -w_.bytes);
  }
  ~CudaWeight() override { cuda::free_weight(w_); }

  const DeviceWeight& weight(Napi::Env env) const {
    if (disposed_) throw_coded(env, "ERR_ARG", "this CUDA weight was disposed");
    return w_;
  }
  std::atomic<int> in_flight{0};

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (in_flight.load() > 0)
      throw_coded(info.Env(), "ERR_ARG", "cannot dispose a CUDA weight while an operation on it is running");
    if (!disposed_) {
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -w_.bytes);
      cuda::free_weight(w_);
      disposed_ = true;
    }
    return info.Env().Undefined();
  }
  Napi::Value Bytes(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(w_.bytes)); }
  Napi::Value Kind(const Napi::CallbackInfo& info) {
    static const char* names[] = {"dense16", "sparse24", "csr", "densef32", "bsr"};
    return Napi::String::New(info.Env(), names[int(w_.kind)]);
  }
  Napi::Value Rows(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(w_.rows)); }
  Napi::Value Cols(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), double(w_.cols)); }

  DeviceWeight w_;
  bool disposed_ = false;
};

Napi::FunctionReference* CudaWeight::constructor = nullptr;

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const cuda::DeviceInfo d = guarded(env, [] { return cuda::device_info(); });
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", d.name);
  o.Set("major", d.major);
  o.Set("minor", d.minor);
  o.Set("totalMemory", double(d.total_memory));
  o.Set("smCount", d.sm_count);
  o.Set("driverVersion", d.driver_version);
  o.Set("runtimeVersion", d.runtime_version);
  o.Set("count", d.count);
  return o;
}

Napi::Value SelfTest(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), cuda::self_test()); }

Napi::Value UploadDense(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DType dt = arg_dtype(info, 1, "dtype");
  const int64_t rows = arg_size(info, 2, "rows"), cols = arg_size(info, 3, "cols");
  ArrayArg w = arg_array(info, 0, "w", dt, checked_mul(env, rows, cols));
  return CudaWeight::Wrap(env, guarded(env, [&] { return cuda::upload_dense(w.data, dt, rows, cols); }));
}

Napi::Value UploadNm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t n = arg_size(info, 2, "n", 64), m = arg_size(info, 3, "m", 64);
  const DType dt = arg_dtype(info, 4, "dtype");
  const int64_t rows = arg_size(info, 5, "rows"), cols = arg_size(info, 6, "cols");
  if (n < 1 || m < 1 || n > m) throw_coded(env, "ERR_ARG", "uploadNm: need 1 <= n <= m");
  if (dt == DType::F32) throw_coded(env, "ERR_DTYPE", "uploadNm: values must be f16 or bf16 for the sparse tensor cores");
  const int64_t kept = checked_mul(env, checked_mul(env, rows, (cols + m - 1) / m), n);
  ArrayArg v = arg_array(info, 0, "values", dt, kept);
  ArrayArg p = arg_index_array(info, 1, "positions", napi_uint8_array, kept);
  return CudaWeight::Wrap(env, guarded(env, [&] {
                            return cuda::upload_nm(static_cast<const uint16_t*>(v.data), static_cast<const uint8_t*>(p.data),
                                                   int(n), int(m), dt, rows, cols);
                          }));
}

Napi::Value UploadCsr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DType dt = arg_dtype(info, 3, "dtype");
  const int64_t rows = arg_size(info, 4, "rows"), cols = arg_size(info, 5, "cols");
  ArrayArg rp = arg_index_array(info, 0, "rowPtr", napi_uint32_array, rows + 1);
  const auto* ptr = static_cast<const uint32_t*>(rp.data);
  const int64_t nnz = ptr[rows];
  if (!info[1].IsTypedArray()) throw_coded(env, "ERR_DTYPE", "colIdx must be a Uint16Array or Uint32Array");
  const napi_typedarray_type ct = info[1].As<Napi::TypedArray>().TypedArrayType();
  if (ct != napi_uint16_array && ct != napi_uint32_array)
    throw_coded(env, "ERR_DTYPE", "colIdx must be a Uint16Array or Uint32Array");
  ArrayArg ci = arg_index_array(info, 1, "colIdx", ct, nnz);
  ArrayArg vals = arg_array(info, 2, "values", dt, nnz);
  return CudaWeight::Wrap(env, guarded(env, [&] {
                            return cuda::upload_csr(ptr, ci.data, ct == napi_uint16_array ? 2 : 4, vals.data, dt, rows,
                                                    cols);
                          }));
}

Napi::Value UploadBsr(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const DType dt = arg_dtype(info, 3, "dtype");
  const int64_t rows = arg_size(info, 4, "rows"), cols = arg_size(info, 5, "cols");
  const int64_t br = arg_size(info, 6, "blockRows", 4096), bc = arg_size(info, 7, "blockCols", 4096);
  if (br < 1 || bc < 1 || br * bc > 4096)
    throw_coded(env, "ERR_ARG", "uploadBsr: block must be [rows, cols] >= 1 with rows * cols <= 4096");
  const int64_t nbr = (rows + br - 1) / br;
  ArrayArg rp = arg_index_array(info, 0, "blockRowPtr", napi_uint32_array, nbr + 1);
  const auto* ptr = static_cast<const uint32_t*>(rp.data);
  const int64_t nblocks = ptr[nbr];
  if (!info[1].IsTypedArray()) throw_coded(env, "ERR_DTYPE", "blockCol must be a Uint16Array or Uint32Array");
  const napi_typedarray_type ct = info[1].As<Napi::TypedArray>().TypedArrayType();
  if (ct != napi_uint16_array && ct != napi_uint32_array)
    throw_coded(env, "ERR_DTYPE", "blockCol must be a Uint16Array or Uint32Array");
  ArrayArg bcol = arg_index_array(info, 1, "blockCol", ct, nblocks);
  ArrayArg vals = arg_array(info, 2, "values", dt, checked_mul(env, nblocks, br * bc));
  return CudaWeight::Wrap(env, guarded(env, [&] {
                            return cuda::upload_bsr(ptr, bcol.data, ct == napi_uint16_array ? 2 : 4, vals.data, dt, rows,
                                                    cols, br, bc);
                          }));
}

struct MatmulCall {
  CudaWeight* weight;
  DeviceWeight w;
  const float* x;
  float* y;
  int64_t M;
  Napi::Value keep[3];
};

MatmulCall parse_matmul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject() || !info[0].As<Napi::Object>().InstanceOf(CudaWeight::constructor->Value()))
    throw_coded(env, "ERR_ARG", "matmul: first argument must be a CudaWeight");
  CudaWeight* cw = CudaWeight::Unwrap(info[0].As<Napi::Object>());
  const DeviceWeight& w = cw->weight(env);
  const int64_t M = arg_size(info, 2, "M");
  ArrayArg x = arg_array(info, 1, "x", DType::F32, checked_mul(env, M, w.cols));
  ArrayArg y = arg_array(info, 3, "y", DType::F32, checked_mul(env, M, w.rows));
  return MatmulCall{cw, w, static_cast<const float*>(x.data), static_cast<float*>(y.data), M,
                    {info[0], x.array, y.array}};
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  MatmulCall c = parse_matmul(info);
  guarded(info.Env(), [&] { cuda::matmul_host(c.w, c.x, c.M, c.y); });
  return info.Env().Undefined();
}

Napi::Value MatmulAsync(const Napi::CallbackInfo& info) {
  MatmulCall c = parse_matmul(info);
  c.weight->in_flight++;
  CudaWeight* cw = c.weight;
  // The weight object is pinned by the AsyncOp; in_flight blocks dispose() until the op is done.
  return binding::AsyncOp::Start(
      info.Env(), "sparsenn.cuda.matmul",
      [c, cw] {
        struct Done {
          CudaWeight* cw;
          ~Done() { cw->in_flight--; }
        } done{cw};
        try {
          cuda::matmul_host(c.w, c.x, c.M, c.y);
        } catch (const CudaError& e) {
          throw CodedError(e.code, e.what());
        }
      },
      {c.keep[0], c.keep[1], c.keep[2]});
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = CudaWeight::Define(env);
  CudaWeight::constructor = new Napi::FunctionReference(Napi::Persistent(cls));
  exports.Set("CudaWeight", cls);
  exports.Set("deviceInfo", Napi::Function::New(env, DeviceInfo, "deviceInfo"));
  exports.Set("selfTest", Napi::Function::New(env, SelfTest, "selfTest"));
  exports.Set("uploadDense", Napi::Function::New(env, UploadDense, "uploadDense"));
  exports.Set("uploadNm", Napi::Function::New(env, UploadNm, "uploadNm"));
  exports.Set("uploadCsr", Napi::Function::New(env, UploadCsr, "uploadCsr"));
  exports.Set("uploadBsr", Napi::Function::New(env, UploadBsr, "uploadBsr"));
  exports.Set("matmul", Napi::Function::New(env, Matmul, "matmul"));
  exports.Set("matmulAsync", Napi::Function::New(env, MatmulAsync, "matmulAsync"));
  return exports;
}

}  // namespace sparsenn::cuda_binding

static Napi::Object InitSparsennCuda(Napi::Env env, Napi::Object exports) {
  return sparsenn::cuda_binding::Init(env, exports);
}

NODE_API_MODULE(sparsenn_cuda, InitSparsennCuda)
