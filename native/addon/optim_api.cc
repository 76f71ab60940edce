// JS bindings of the optimiser ops (gmai/ops/optim.h): adamwStep over lists of tensors and
// sumOfSquares. They check every tensor (errors name the list and index), plan the chunks the
// kernels share, and compute the step's scalars in double as torch does.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "dispatch.h"
#include "gmai/ops.h"

namespace gmai {
namespace {

std::string itemName(const char* list, uint32_t i) { return std::string(list) + "[" + std::to_string(i) + "]"; }

Napi::Array arrayArg(const Napi::Value& v, const char* op, const char* name) {
  if (!v.IsArray()) throw std::invalid_argument(std::string(op) + ": '" + name + "' must be an array of tensors");
  return v.As<Napi::Array>();
}

// Chunks of at most kOptimChunkElements elements over tensors of the given sizes, in order.
std::vector<OptimChunk> planOptimChunks(const std::vector<int64_t>& sizes) {
  std::vector<OptimChunk> chunks;
  for (size_t t = 0; t < sizes.size(); ++t)
    for (int64_t b = 0; b < sizes[t]; b += kOptimChunkElements)
      chunks.push_back({int32_t(t), b, std::min(sizes[t], b + kOptimChunkElements)});
  return chunks;
}

// A number option; `fallback` when absent if `required` is false.
double numberOption(const Napi::Object& o, const char* key, bool required, double fallback = 0) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    if (required) throw std::invalid_argument(std::string("adamwStep: option '") + key + "' is required");
    return fallback;
  }
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
    throw std::invalid_argument(std::string("adamwStep: option '") + key + "' must be a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

void requireRange(double v, const char* key, bool ok, const char* rule) {
  if (!ok) throw std::invalid_argument(std::string("adamwStep: '") + key + "' is " + std::to_string(v) + "; it must be " + rule);
}

// The memory an AdamW step writes must not overlap between tensors (a tensor listed twice would
// be updated twice, a moment sharing a parameter's memory would corrupt it).
void requireDisjoint(std::vector<std::pair<const TensorHandle*, std::string>> written) {
  auto begin = [](const TensorHandle* t) { return static_cast<const char*>(t->data()); };
  written.erase(std::remove_if(written.begin(), written.end(), [](auto& w) { return w.first->bytes() == 0; }), written.end());
  std::sort(written.begin(), written.end(), [&](auto& a, auto& b) { return begin(a.first) < begin(b.first); });
  for (size_t i = 1; i < written.size(); ++i) {
    if (begin(written[i - 1].first) + written[i - 1].first->bytes() > begin(written[i].first))
      throw std::invalid_argument("adamwStep: '" + written[i - 1].second + "' and '" + written[i].second +
                                  "' share memory; every parameter and moment must be a tensor of its own");
  }
}

// adamwStep(params[], grads[], expAvg[], expAvgSq[], modelWeights[] | null,
//           { lr, beta1, beta2, eps, weightDecay: number[], step, gradScale? })
Napi::Value adamwStep(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array params = arrayArg(info[0], "adamwStep", "params"), grads = arrayArg(info[1], "adamwStep", "grads");
  Napi::Array expAvg = arrayArg(info[2], "adamwStep", "expAvg"), expAvgSq = arrayArg(info[3], "adamwStep", "expAvgSq");
  const bool haveModel = !(info[4].IsUndefined() || info[4].IsNull());
  Napi::Array model = haveModel ? arrayArg(info[4], "adamwStep", "modelWeights") : Napi::Array::New(env);
  if (!info[5].IsObject()) throw std::invalid_argument("adamwStep: the hyperparameters object is required");
  Napi::Object hp = info[5].As<Napi::Object>();

  const uint32_t count = params.Length();
  for (auto [arr, name] : {std::pair{grads, "grads"}, {expAvg, "expAvg"}, {expAvgSq, "expAvgSq"}})
    if (arr.Length() != count)
      throw std::invalid_argument(std::string("adamwStep: '") + name + "' has " + std::to_string(arr.Length()) +
                                  " tensors but 'params' has " + std::to_string(count));
  if (haveModel && model.Length() != count)
    throw std::invalid_argument("adamwStep: 'modelWeights' has " + std::to_string(model.Length()) +
                                " entries but 'params' has " + std::to_string(count) + " (use undefined for none)");

  const double lr = numberOption(hp, "lr", true), beta1 = numberOption(hp, "beta1", true);
  const double beta2 = numberOption(hp, "beta2", true), eps = numberOption(hp, "eps", true);
  const double step = numberOption(hp, "step", true), gradScale = numberOption(hp, "gradScale", false, 1.0);
  requireRange(lr, "lr", lr >= 0, ">= 0");
  requireRange(beta1, "beta1", beta1 >= 0 && beta1 < 1, "in [0, 1)");
  requireRange(beta2, "beta2", beta2 >= 0 && beta2 < 1, "in [0, 1)");
  requireRange(eps, "eps", eps >= 0, ">= 0");
  requireRange(step, "step", step >= 1 && step == std::floor(step) && step <= 9007199254740992.0, "an integer >= 1 (1 for the first step)");
  Napi::Value wdValue = hp.Get("weightDecay");
  if (!wdValue.IsArray() || wdValue.As<Napi::Array>().Length() != count)
    throw std::invalid_argument("adamwStep: 'weightDecay' must be an array of one number per tensor (" + std::to_string(count) + ")");
  Napi::Array weightDecay = wdValue.As<Napi::Array>();

  std::vector<AdamwTensor> tensors(count);
  std::vector<int64_t> sizes(count);
  std::vector<std::pair<const TensorHandle*, std::string>> written;
  const TensorHandle* first = nullptr;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string pn = itemName("params", i), gn = itemName("grads", i), mn = itemName("expAvg", i), vn = itemName("expAvgSq", i);
    auto* p = tensorArg(params.Get(i), pn.c_str());
    auto* g = tensorArg(grads.Get(i), gn.c_str());
    auto* m = tensorArg(expAvg.Get(i), mn.c_str());
    auto* v = tensorArg(expAvgSq.Get(i), vn.c_str());
    const std::string wn = itemName("modelWeights", i);
    Napi::Value wv = haveModel ? model.Get(i) : env.Undefined();
    const TensorHandle* w = (wv.IsUndefined() || wv.IsNull()) ? nullptr : tensorArg(wv, wn.c_str());
    for (auto [t, n] : {std::pair{p, &pn}, {g, &gn}, {m, &mn}, {v, &vn}}) {
      requireDtype(t, n->c_str(), {DType::F32});
      if (t->numel() != p->numel())
        throw std::invalid_argument("adamwStep: '" + *n + "' " + shapeString(t->shape()) + " and '" + pn + "' " +
                                    shapeString(p->shape()) + " differ in size");
    }
    if (w) {
      requireDtype(w, wn.c_str(), {DType::F32, DType::BF16});
      if (w->numel() != p->numel())
        throw std::invalid_argument("adamwStep: '" + wn + "' " + shapeString(w->shape()) + " and '" + pn + "' " +
                                    shapeString(p->shape()) + " differ in size");
    }
    if (!first) first = p;
    requireSameDevice({{first, "params[0]"}, {p, pn.c_str()}, {g, gn.c_str()}, {m, mn.c_str()}, {v, vn.c_str()}, {w, wn.c_str()}});
    Napi::Value wd = weightDecay.Get(i);
    if (!wd.IsNumber() || !(wd.As<Napi::Number>().DoubleValue() >= 0) || !std::isfinite(wd.As<Napi::Number>().DoubleValue()))
      throw std::invalid_argument("adamwStep: 'weightDecay[" + std::to_string(i) + "]' must be a finite number >= 0");

    written.push_back({p, pn}); written.push_back({m, mn}); written.push_back({v, vn});
    const bool wIsParam = w && w->data() == p->data() && w->dtype() == DType::F32;  // writing p onto itself is harmless
    if (w && !wIsParam) written.push_back({w, wn});

    AdamwTensor& t = tensors[i];
    t.param = static_cast<float*>(p->data()); t.grad = static_cast<const float*>(g->data());
    t.expAvg = static_cast<float*>(m->data()); t.expAvgSq = static_cast<float*>(v->data());
    t.modelWeight = w ? w->data() : nullptr; t.modelType = w ? w->dtype() : DType::F32;
    t.n = p->numel();
    t.decayFactor = float(1.0 - lr * wd.As<Napi::Number>().DoubleValue());
    sizes[i] = t.n;
  }
  requireDisjoint(std::move(written));

  const std::vector<OptimChunk> chunks = planOptimChunks(sizes);
  if (chunks.empty()) return env.Undefined();
  AdamwArgs a;
  a.tensors = tensors.data(); a.count = int32_t(count);
  a.chunks = chunks.data(); a.chunkCount = int64_t(chunks.size());
  a.beta1 = float(beta1); a.beta2 = float(beta2);
  a.oneMinusBeta1 = float(1.0 - beta1); a.oneMinusBeta2 = float(1.0 - beta2);
  a.eps = float(eps); a.gradScale = float(gradScale);
  a.stepSize = float(lr / (1.0 - std::pow(beta1, step)));
  a.biasCorrection2Sqrt = float(std::sqrt(1.0 - std::pow(beta2, step)));
  GMAI_CALL(env, first, adamw, a);
  return env.Undefined();
}

// sumOfSquares(tensors[]) -> Σ x² over all of them, accumulated in float64.
Napi::Value sumOfSquares(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array list = arrayArg(info[0], "sumOfSquares", "tensors");
  const uint32_t count = list.Length();
  std::vector<const float*> data(count);
  std::vector<int64_t> sizes(count);
  const TensorHandle* first = nullptr;
  for (uint32_t i = 0; i < count; ++i) {
    const std::string n = itemName("tensors", i);
    auto* t = tensorArg(list.Get(i), n.c_str());
    requireDtype(t, n.c_str(), {DType::F32});
    if (!first) first = t;
    requireSameDevice({{first, "tensors[0]"}, {t, n.c_str()}});
    data[i] = static_cast<const float*>(t->data());
    sizes[i] = t->numel();
  }
  const std::vector<OptimChunk> chunks = planOptimChunks(sizes);
  double result = 0.0;
  if (chunks.empty()) return Napi::Number::New(env, result);
  SumOfSquaresArgs a;
  a.tensors = data.data(); a.count = int32_t(count);
  a.chunks = chunks.data(); a.chunkCount = int64_t(chunks.size());
  a.result = &result;
  GMAI_CALL(env, first, sumOfSquares, a);
  return Napi::Number::New(env, result);
}

}  // namespace

GMAI_ADDON_MODULE(optim_api) {
  exports.Set("adamwStep", Napi::Function::New(env, adamwStep, "adamwStep"));
  exports.Set("sumOfSquares", Napi::Function::New(env, sumOfSquares, "sumOfSquares"));
}

}  // namespace gmai
