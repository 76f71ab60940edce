// Each addon source file registers the functions it exports with GMAI_ADDON_MODULE, so adding
// an op never means editing a central list. The registry holds only code pointers, filled at
// load time and never changed after: safe when the addon is loaded by several worker threads.
#pragma once
#include <napi.h>

#include <vector>

#include "gmai/context.h"

namespace gmai {

using AddonInit = void (*)(Napi::Env env, Napi::Object exports);
std::vector<AddonInit>& addonModules();
struct AddonRegistrar {
  explicit AddonRegistrar(AddonInit fn) { addonModules().push_back(fn); }
};

// Per-instance state (one per Node environment / worker thread).
struct AddonData {
  std::unique_ptr<ThreadPool> pool;
  Napi::FunctionReference tensorClass;
  Context context() { Context c; c.pool = pool.get(); return c; }
};
AddonData& addonData(Napi::Env env);

}  // namespace gmai

#define GMAI_ADDON_MODULE(name)                                                  \
  static void name##_init(Napi::Env env, Napi::Object exports);                  \
  static ::gmai::AddonRegistrar name##_registrar(name##_init);                   \
  static void name##_init(Napi::Env env, Napi::Object exports)
