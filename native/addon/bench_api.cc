// Bindings of the machine probes used by `gmai bench` (lib/bench/roofline.ts). Synchronous:
// they occupy every pool thread for up to a second or so; benchmarks only, not for services.
#include "gmai/probe.h"
#include "registry.h"

namespace gmai {
namespace {

Napi::Object resultObject(Napi::Env env, const cpu::ProbeResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("value", r.value);
  o.Set("seconds", r.seconds);
  o.Set("isa", r.isa);
  return o;
}

int positiveInt(const Napi::Value& v, const char* name, int64_t fallback, int64_t max) {
  if (v.IsUndefined()) return int(fallback);
  double x = v.ToNumber().DoubleValue();
  if (!(x >= 1 && x <= double(max)))
    throw std::invalid_argument(std::string("probe: '") + name + "' must be between 1 and " + std::to_string(max));
  return int(x);
}

// probeFmaPeak(itersPerThread?, reps?) -> { value: GFLOP/s, seconds, isa }
Napi::Value probeFmaPeak(const Napi::CallbackInfo& info) {
  int iters = positiveInt(info[0], "itersPerThread", 20'000'000, 1'000'000'000);
  int reps = positiveInt(info[1], "reps", 3, 100);
  return resultObject(info.Env(), cpu::probeFmaPeak(addonData(info.Env()).context(), iters, reps));
}

// probeReadBandwidth(megabytes?, reps?) -> { value: GB/s, seconds, isa }
Napi::Value probeReadBandwidth(const Napi::CallbackInfo& info) {
  int mb = positiveInt(info[0], "megabytes", 512, 16384);
  int reps = positiveInt(info[1], "reps", 5, 100);
  return resultObject(info.Env(), cpu::probeReadBandwidth(addonData(info.Env()).context(), size_t(mb) << 20, reps));
}

}  // namespace

GMAI_ADDON_MODULE(bench_api) {
  exports.Set("probeFmaPeak", Napi::Function::New(env, probeFmaPeak, "probeFmaPeak"));
  exports.Set("probeReadBandwidth", Napi::Function::New(env, probeReadBandwidth, "probeReadBandwidth"));
}

}  // namespace gmai
