// Module entry: creates the per-instance state and lets every registered source file add
// its functions. Context-aware (NAPI_MODULE_INIT via Napi addon), so worker threads can load it.
#include <napi.h>

#include "registry.h"
#include "tensor.h"

namespace gmai {

std::vector<AddonInit>& addonModules() {
  static std::vector<AddonInit> modules;
  return modules;
}

AddonData& addonData(Napi::Env env) {
  AddonData* d = env.GetInstanceData<AddonData>();
  if (!d) throw Napi::Error::New(env, "gmai addon used before it was initialised");
  return *d;
}

static Napi::Object init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  data->pool = std::make_unique<ThreadPool>(defaultThreadCount());
  data->tensorClass = Napi::Persistent(TensorHandle::defineClass(env));
  env.SetInstanceData<AddonData>(data);  // deleted by Node when the environment shuts down
  for (AddonInit fn : addonModules()) fn(env, exports);
  return exports;
}

}  // namespace gmai

static Napi::Object gmaiInit(Napi::Env env, Napi::Object exports) { return gmai::init(env, exports); }
NODE_API_MODULE(gmai, gmaiInit)
