#include "async_op.h"

#include "args.h"

namespace sparsenn::binding {

void run_sync(Napi::Env env, const std::function<void()>& work) {
  try {
    work();
  } catch (const CodedError& e) {
    throw_coded(env, e.code.c_str(), e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw_coded(env, "ERR_NATIVE", e.what());
  }
}

}  // namespace sparsenn::binding
