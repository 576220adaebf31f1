// The one generic async wrapper: runs a kernel closure on a libuv worker
// thread and settles a Promise. It keeps a reference to every JS buffer the
// closure reads or writes, so none is collected while the kernel runs.
#pragma once
#include <napi.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sparsenn::binding {

// A kernel failure with a stable error code (thrown inside the closure).
struct CodedError : std::runtime_error {
  CodedError(std::string c, const std::string& msg) : std::runtime_error(msg), code(std::move(c)) {}
  std::string code;
};

class AsyncOp : public Napi::AsyncWorker {
 public:
  // Returns the Promise. `keep` lists the JS values (typed arrays) to pin.
  static Napi::Promise Start(Napi::Env env, const char* name, std::function<void()> work,
                             std::initializer_list<Napi::Value> keep) {
    auto* op = new AsyncOp(env, name, std::move(work));
    for (const Napi::Value& v : keep) op->refs_.emplace_back(Napi::Persistent(v.As<Napi::Object>()));
    Napi::Promise promise = op->deferred_.Promise();
    op->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (const CodedError& e) {
      code_ = e.code;
      SetError(e.what());
    } catch (const std::exception& e) {
      code_ = "ERR_NATIVE";
      SetError(e.what());
    } catch (...) {
      code_ = "ERR_NATIVE";
      SetError("unknown native error");
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override {
    Napi::Object err = Napi::Error::New(Env(), e.Message()).Value();
    err.Set("code", Napi::String::New(Env(), code_));
    deferred_.Reject(err);
  }

 private:
  AsyncOp(Napi::Env env, const char* name, std::function<void()> work)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)) {}

  Napi::Promise::Deferred deferred_;
  std::function<void()> work_;
  std::vector<Napi::ObjectReference> refs_;
  std::string code_;
};

// Runs `work` synchronously, turning kernel failures into coded JS errors.
void run_sync(Napi::Env env, const std::function<void()>& work);

}  // namespace sparsenn::binding
