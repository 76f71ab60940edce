// JS bindings of the loss family (native/include/gmai/ops/loss.h): token log-probs forward and
// backward (optionally through lm_head, chunked), and the GRPO per-token loss. Every shape,
// dtype, device and option is checked here, with errors naming the tensor or field.
#include <cmath>
#include <string>

#include "gmai/ops.h"
#include "dispatch.h"

namespace gmai {
namespace {

const TensorHandle* optionalTensor(const Napi::Value& v, const char* name) {
  return (v.IsUndefined() || v.IsNull()) ? nullptr : tensorArg(v, name);
}

Napi::Object optionsArg(const Napi::CallbackInfo& info, size_t i, const char* op) {
  if (info[i].IsUndefined()) return Napi::Object::New(info.Env());
  if (!info[i].IsObject()) throw std::invalid_argument(std::string(op) + ": 'options' must be an object");
  return info[i].As<Napi::Object>();
}

// A finite number field of an options object, or `fallback` when absent.
double numberField(const Napi::Object& o, const char* op, const char* field, double fallback) {
  Napi::Value v = o.Get(field);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber() || !std::isfinite(v.As<Napi::Number>().DoubleValue()))
    throw std::invalid_argument(std::string(op) + ": '" + field + "' must be a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

// The shared part of both token log-prob bindings: x, lmHead, targets and the options.
struct TokenRows {
  int64_t rows = 0, vocab = 0, hidden = 0;
  float invTemperature = 1.0f;
  int64_t chunkRows = 0;
};

TokenRows tokenRows(const char* op, const TensorHandle* x, const TensorHandle* lmHead, const TensorHandle* targets,
                    const Napi::Object& opt) {
  const char* xName = lmHead ? "hidden" : "logits";
  requireDtype(x, xName, {DType::F32});
  requireDtype(targets, "targets", {DType::I32});
  if (x->shape().size() != 2)
    throw std::invalid_argument(std::string(op) + ": '" + xName + "' must be 2-D [rows, " + (lmHead ? "hidden" : "vocab") +
                                "], got " + shapeString(x->shape()));
  TokenRows r;
  r.rows = x->shape()[0];
  if (lmHead) {
    requireDtype(lmHead, "lmHead", {DType::F32, DType::BF16, DType::F16});
    requireSameDevice({{x, xName}, {lmHead, "lmHead"}, {targets, "targets"}});
    if (lmHead->shape().size() != 2 || lmHead->shape()[1] != x->shape()[1])
      throw std::invalid_argument(std::string(op) + ": 'lmHead' must be [vocab, " + std::to_string(x->shape()[1]) +
                                  "] to match 'hidden' " + shapeString(x->shape()) + ", got " + shapeString(lmHead->shape()));
    r.vocab = lmHead->shape()[0];
    r.hidden = x->shape()[1];
    if (r.hidden < 1) throw std::invalid_argument(std::string(op) + ": 'hidden' has no columns");
  } else {
    requireSameDevice({{x, xName}, {targets, "targets"}});
    r.vocab = x->shape()[1];
  }
  if (r.vocab < 1) throw std::invalid_argument(std::string(op) + ": the vocabulary is empty");
  requireShape(targets, "targets", {r.rows});
  {  // targets are validated here so the kernels never index outside a row
    std::vector<char> bytes = hostBytes(targets);
    const int32_t* p = reinterpret_cast<const int32_t*>(bytes.data());
    for (int64_t i = 0; i < r.rows; ++i)
      if (p[i] < 0 || p[i] >= r.vocab)
        throw std::invalid_argument(std::string(op) + ": 'targets'[" + std::to_string(i) + "] = " + std::to_string(p[i]) +
                                    " is outside the vocabulary of " + std::to_string(r.vocab));
  }
  const double temperature = numberField(opt, op, "temperature", 1.0);
  if (!(temperature > 0)) throw std::invalid_argument(std::string(op) + ": 'temperature' must be > 0");
  r.invTemperature = float(1.0 / temperature);
  const double chunk = numberField(opt, op, "chunkRows", 0.0);
  if (chunk < 0 || chunk != std::floor(chunk)) throw std::invalid_argument(std::string(op) + ": 'chunkRows' must be a whole number >= 0 (0 = automatic)");
  r.chunkRows = int64_t(chunk);
  return r;
}

void requireRowVector(const TensorHandle* t, const char* name, const TensorHandle* like, int64_t rows) {
  requireDtype(t, name, {DType::F32});
  requireShape(t, name, {rows});
  requireSameDevice({{t, name}, {like, "hidden/logits"}});
}

// Checks the gradient tensors of a backward (or of a forward that carries its dlogp).
void requireGradTensors(const char* op, const TensorHandle* x, const TensorHandle* lmHead, const TokenRows& r,
                        const TensorHandle* dlogp, const TensorHandle* dx, const TensorHandle* dLmHead) {
  const char* dxName = lmHead ? "dhidden" : "dlogits";
  requireRowVector(dlogp, "dlogp", x, r.rows);
  requireDtype(dx, dxName, {DType::F32});
  requireShape(dx, dxName, x->shape());
  requireSameDevice({{x, "hidden"}, {dx, dxName}});
  if (dLmHead) {
    if (!lmHead) throw std::invalid_argument(std::string(op) + ": 'dLmHead' needs 'lmHead'");
    requireDtype(dLmHead, "dLmHead", {DType::F32});
    requireShape(dLmHead, "dLmHead", {r.vocab, r.hidden});
    requireSameDevice({{x, "hidden"}, {dLmHead, "dLmHead"}});
  }
}

// tokenLogprobs(x, lmHead | null, targets [rows] i32, logp [rows], lse [rows], entropy [rows] | null,
//               { temperature, chunkRows }, grad?: { dlogp [rows], dx [rows, hidden], dLmHead | null })
// With grad (lmHead required) the backward for that upstream gradient runs in the same pass.
Napi::Value tokenLogprobs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* x = tensorArg(info[0], "hidden");
  const TensorHandle* lmHead = optionalTensor(info[1], "lmHead");
  auto* targets = tensorArg(info[2], "targets");
  auto* logp = tensorArg(info[3], "logp");
  auto* lse = tensorArg(info[4], "lse");
  const TensorHandle* entropy = optionalTensor(info[5], "entropy");
  TokenRows r = tokenRows("tokenLogprobs", x, lmHead, targets, optionsArg(info, 6, "tokenLogprobs"));
  requireRowVector(logp, "logp", x, r.rows);
  requireRowVector(lse, "lse", x, r.rows);
  if (entropy) requireRowVector(entropy, "entropy", x, r.rows);
  TokenLogprobsArgs a;
  a.rows = r.rows; a.vocab = r.vocab; a.hidden = r.hidden;
  a.x = static_cast<const float*>(x->data());
  a.lmHead = lmHead ? lmHead->data() : nullptr; a.lmHeadType = lmHead ? lmHead->dtype() : DType::F32;
  a.targets = static_cast<const int32_t*>(targets->data());
  a.invTemperature = r.invTemperature; a.chunkRows = r.chunkRows;
  a.logp = static_cast<float*>(logp->data()); a.lse = static_cast<float*>(lse->data());
  a.entropy = entropy ? static_cast<float*>(entropy->data()) : nullptr;
  if (info.Length() > 7 && !info[7].IsUndefined()) {
    if (!lmHead) throw std::invalid_argument("tokenLogprobs: 'grad' needs 'lmHead' (the fused backward works from the hidden states)");
    if (!info[7].IsObject()) throw std::invalid_argument("tokenLogprobs: 'grad' must be { dlogp, dx, dLmHead? }");
    Napi::Object g = info[7].As<Napi::Object>();
    auto* dlogp = tensorArg(g.Get("dlogp"), "grad.dlogp");
    auto* dx = tensorArg(g.Get("dx"), "grad.dx");
    const TensorHandle* dLmHead = optionalTensor(g.Get("dLmHead"), "grad.dLmHead");
    requireGradTensors("tokenLogprobs", x, lmHead, r, dlogp, dx, dLmHead);
    a.dlogp = static_cast<const float*>(dlogp->data());
    a.dx = static_cast<float*>(dx->data());
    a.dLmHead = dLmHead ? static_cast<float*>(dLmHead->data()) : nullptr;
  }
  if (a.rows) GMAI_CALL(env, x, tokenLogprobs, a);
  return env.Undefined();
}

// tokenLogprobsBackward(x, lmHead | null, targets, lse [rows], dlogp [rows], dx, dLmHead | null,
//                       { temperature, chunkRows })
Napi::Value tokenLogprobsBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* x = tensorArg(info[0], "hidden");
  const TensorHandle* lmHead = optionalTensor(info[1], "lmHead");
  auto* targets = tensorArg(info[2], "targets");
  auto* lse = tensorArg(info[3], "lse");
  auto* dlogp = tensorArg(info[4], "dlogp");
  auto* dx = tensorArg(info[5], lmHead ? "dhidden" : "dlogits");
  const TensorHandle* dLmHead = optionalTensor(info[6], "dLmHead");
  TokenRows r = tokenRows("tokenLogprobsBackward", x, lmHead, targets, optionsArg(info, 7, "tokenLogprobsBackward"));
  requireRowVector(lse, "lse", x, r.rows);
  requireGradTensors("tokenLogprobsBackward", x, lmHead, r, dlogp, dx, dLmHead);
  TokenLogprobsBackwardArgs a;
  a.rows = r.rows; a.vocab = r.vocab; a.hidden = r.hidden;
  a.x = static_cast<const float*>(x->data());
  a.lmHead = lmHead ? lmHead->data() : nullptr; a.lmHeadType = lmHead ? lmHead->dtype() : DType::F32;
  a.targets = static_cast<const int32_t*>(targets->data());
  a.lse = static_cast<const float*>(lse->data()); a.dlogp = static_cast<const float*>(dlogp->data());
  a.invTemperature = r.invTemperature; a.chunkRows = r.chunkRows;
  a.dx = static_cast<float*>(dx->data());
  a.dLmHead = dLmHead ? static_cast<float*>(dLmHead->data()) : nullptr;
  if (a.rows) GMAI_CALL(env, x, tokenLogprobsBackward, a);
  return env.Undefined();
}

GrpoLossType lossTypeArg(const Napi::Object& o) {
  Napi::Value v = o.Get("lossType");
  const std::string s = v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
  if (s == "grpo") return GrpoLossType::Grpo;
  if (s == "bnpo") return GrpoLossType::Bnpo;
  if (s == "dr_grpo") return GrpoLossType::DrGrpo;
  if (s == "dapo") return GrpoLossType::Dapo;
  if (s == "cispo") return GrpoLossType::Cispo;
  if (s == "sapo") return GrpoLossType::Sapo;
  throw std::invalid_argument("grpoTokenLoss: 'lossType' must be one of grpo, bnpo, dr_grpo, dapo, cispo, sapo");
}

// grpoTokenLoss(logp [B, T], oldLogp | null, refLogp | null, advantages [B], mask [B, T],
//               entropy | null, { dlogp, perTokenLoss, coef1, coef2, kl: [B, T], stats: [9] },
//               config { lossType, importanceSamplingLevel, beta, epsilonLow, epsilonHigh, delta,
//                        sapoTemperaturePos, sapoTemperatureNeg, maxCompletionLength, numItems,
//                        gradientAccumulationSteps })
Napi::Value grpoTokenLoss(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  constexpr const char* op = "grpoTokenLoss";
  auto* logp = tensorArg(info[0], "logp");
  const TensorHandle* oldLogp = optionalTensor(info[1], "oldLogp");
  const TensorHandle* refLogp = optionalTensor(info[2], "refLogp");
  auto* adv = tensorArg(info[3], "advantages");
  auto* mask = tensorArg(info[4], "mask");
  const TensorHandle* entropy = optionalTensor(info[5], "entropy");
  if (!info[6].IsObject() || !info[7].IsObject()) throw std::invalid_argument("grpoTokenLoss: 'outputs' and 'config' must be objects");
  Napi::Object outs = info[6].As<Napi::Object>(), cfg = info[7].As<Napi::Object>();

  requireDtype(logp, "logp", {DType::F32});
  if (logp->shape().size() != 2) throw std::invalid_argument("grpoTokenLoss: 'logp' must be [B, T], got " + shapeString(logp->shape()));
  const std::vector<int64_t> bt = logp->shape();
  auto same = [&](const TensorHandle* t, const char* name) {
    requireDtype(t, name, {DType::F32});
    requireShape(t, name, bt);
    requireSameDevice({{logp, "logp"}, {t, name}});
  };
  if (oldLogp) same(oldLogp, "oldLogp");
  if (refLogp) same(refLogp, "refLogp");
  same(mask, "mask");
  if (entropy) same(entropy, "entropy");
  requireDtype(adv, "advantages", {DType::F32});
  requireShape(adv, "advantages", {bt[0]});
  requireSameDevice({{logp, "logp"}, {adv, "advantages"}});
  auto output = [&](const char* name) {
    TensorHandle* t = tensorArg(outs.Get(name), name);
    same(t, name);
    return static_cast<float*>(t->data());
  };

  GrpoTokenLossArgs a;
  a.B = bt[0]; a.T = bt[1];
  a.lossType = lossTypeArg(cfg);
  const std::string level = cfg.Get("importanceSamplingLevel").IsString() ? cfg.Get("importanceSamplingLevel").As<Napi::String>().Utf8Value() : "token";
  if (level != "token" && level != "sequence") throw std::invalid_argument("grpoTokenLoss: 'importanceSamplingLevel' must be 'token' or 'sequence'");
  a.sequenceLevel = level == "sequence";
  a.beta = float(numberField(cfg, op, "beta", 0.0));
  a.epsilonLow = float(numberField(cfg, op, "epsilonLow", 0.2));
  a.epsilonHigh = float(numberField(cfg, op, "epsilonHigh", a.epsilonLow));
  const double delta = numberField(cfg, op, "delta", NAN);
  a.hasDelta = !std::isnan(delta); a.delta = float(delta);
  a.sapoTemperaturePos = float(numberField(cfg, op, "sapoTemperaturePos", 1.0));
  a.sapoTemperatureNeg = float(numberField(cfg, op, "sapoTemperatureNeg", 1.05));
  a.maxCompletionLength = float(numberField(cfg, op, "maxCompletionLength", double(a.T)));
  a.numItems = float(numberField(cfg, op, "numItems", 1.0));
  a.gradientAccumulationSteps = float(numberField(cfg, op, "gradientAccumulationSteps", 1.0));
  if (a.beta != 0.0f && !refLogp) throw std::invalid_argument("grpoTokenLoss: 'beta' is not 0, so 'refLogp' is needed");
  if (a.lossType == GrpoLossType::Sapo && (a.sapoTemperaturePos <= 0 || a.sapoTemperatureNeg <= 0))
    throw std::invalid_argument("grpoTokenLoss: 'sapoTemperaturePos' and 'sapoTemperatureNeg' must be > 0");
  if (a.lossType == GrpoLossType::DrGrpo && !(a.maxCompletionLength > 0))
    throw std::invalid_argument("grpoTokenLoss: 'maxCompletionLength' must be > 0 for dr_grpo");
  if ((a.lossType == GrpoLossType::Dapo || a.lossType == GrpoLossType::Cispo) && !(a.numItems > 0))
    throw std::invalid_argument("grpoTokenLoss: 'numItems' (tokens in the whole batch / processes) must be > 0 for dapo and cispo");
  if (!(a.gradientAccumulationSteps >= 1)) throw std::invalid_argument("grpoTokenLoss: 'gradientAccumulationSteps' must be >= 1");

  a.logp = static_cast<const float*>(logp->data());
  a.oldLogp = oldLogp ? static_cast<const float*>(oldLogp->data()) : nullptr;
  a.refLogp = refLogp ? static_cast<const float*>(refLogp->data()) : nullptr;
  a.advantages = static_cast<const float*>(adv->data());
  a.mask = static_cast<const float*>(mask->data());
  a.entropy = entropy ? static_cast<const float*>(entropy->data()) : nullptr;
  a.dlogp = output("dlogp"); a.perTokenLoss = output("perTokenLoss");
  a.coef1 = output("coef1"); a.coef2 = output("coef2"); a.kl = output("kl");
  TensorHandle* stats = tensorArg(outs.Get("stats"), "stats");
  requireDtype(stats, "stats", {DType::F32});
  requireShape(stats, "stats", {int64_t(kGrpoStatCount)});
  requireSameDevice({{logp, "logp"}, {stats, "stats"}});
  a.stats = static_cast<float*>(stats->data());
  GMAI_CALL(env, logp, grpoTokenLoss, a);
  return env.Undefined();
}

}  // namespace

GMAI_ADDON_MODULE(loss_api) {
  exports.Set("tokenLogprobs", Napi::Function::New(env, tokenLogprobs, "tokenLogprobs"));
  exports.Set("tokenLogprobsBackward", Napi::Function::New(env, tokenLogprobsBackward, "tokenLogprobsBackward"));
  exports.Set("grpoTokenLoss", Napi::Function::New(env, grpoTokenLoss, "grpoTokenLoss"));
}

}  // namespace gmai
