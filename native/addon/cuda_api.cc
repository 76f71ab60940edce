// CUDA-only bindings: the device list for `gmai info`. Compiled to nothing in CPU builds.
#ifdef GMAI_WITH_CUDA
#include "cuda_runtime_glue.h"
#include "registry.h"

namespace gmai {
namespace {
Napi::Value cudaDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto list = cudaDeviceList();
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", list[i].name);
    d.Set("memoryBytes", double(list[i].memoryBytes));
    d.Set("computeCapability", std::to_string(list[i].major) + "." + std::to_string(list[i].minor));
    out.Set(uint32_t(i), d);
  }
  return out;
}
}  // namespace

GMAI_ADDON_MODULE(cuda_api) {
  exports.Set("cudaDevices", Napi::Function::New(env, cudaDevices, "cudaDevices"));
}
}  // namespace gmai
#endif
