// Bindings for attention (forward and backward), rotary embedding and the row scatter / GELU the model needs.
// Sequence boundaries and row indices are small host arrays (Int32Array), checked here; they
// stay host arrays for CUDA tensors too (the CUDA ops copy them to the device).
#include <cmath>
#include <string>

#include "dispatch.h"
#include "gmai/ops.h"

namespace gmai {
namespace {

std::vector<int32_t> int32ArrayArg(const Napi::Value& v, const char* name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw std::invalid_argument(std::string("'") + name + "' must be an Int32Array");
  auto a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// Boundaries [0, …, total], non-decreasing.
void checkCuSeqlens(const std::vector<int32_t>& cu, int64_t total, const char* name) {
  if (cu.size() < 2) throw std::invalid_argument(std::string("'") + name + "' needs at least 2 entries");
  if (cu.front() != 0) throw std::invalid_argument(std::string("'") + name + "' must start at 0");
  for (size_t i = 1; i < cu.size(); ++i)
    if (cu[i] < cu[i - 1])
      throw std::invalid_argument(std::string("'") + name + "' decreases at entry " + std::to_string(i));
  if (cu.back() != total)
    throw std::invalid_argument(std::string("'") + name + "' ends at " + std::to_string(cu.back()) +
                                " but the tensor has " + std::to_string(total) + " rows");
}

// What attention and its backward share: q [Tq,Hq,D], k and v [Tk,Hkv,D] checked, and the
// options { causal, scale, cuSeqlensQ, cuSeqlensK } read into a (the boundaries are kept in
// cuQ/cuK, which must outlive a). Errors start with the op's name.
template <typename Args>
void readAttentionInputs(const char* op, const TensorHandle* q, const TensorHandle* k, const TensorHandle* v,
                         const Napi::Object& opt, Args& a, std::vector<int32_t>& cuQ, std::vector<int32_t>& cuK) {
  const std::string name = op;
  for (auto [t, n] : {std::pair{q, "q"}, {k, "k"}, {v, "v"}}) {
    requireDtype(t, n, {DType::F32});
    if (t->shape().size() != 3) throw std::invalid_argument(name + ": '" + n + "' must be [T, heads, headDim], got " + shapeString(t->shape()));
  }
  a.Tq = q->shape()[0]; a.Hq = q->shape()[1]; a.D = q->shape()[2];
  a.Tk = k->shape()[0]; a.Hkv = k->shape()[1];
  if (k->shape()[2] != a.D) throw std::invalid_argument(name + ": 'k' head size " + std::to_string(k->shape()[2]) + " differs from 'q' head size " + std::to_string(a.D));
  requireShape(v, "v", k->shape());
  if (a.Hkv == 0 || a.Hq % a.Hkv != 0)
    throw std::invalid_argument(name + ": query heads (" + std::to_string(a.Hq) + ") must be a multiple of kv heads (" + std::to_string(a.Hkv) + ")");
  const bool packedQ = !opt.Get("cuSeqlensQ").IsUndefined(), packedK = !opt.Get("cuSeqlensK").IsUndefined();
  if (packedQ != packedK) throw std::invalid_argument(name + ": give both 'cuSeqlensQ' and 'cuSeqlensK' or neither");
  if (packedQ) {
    cuQ = int32ArrayArg(opt.Get("cuSeqlensQ"), "cuSeqlensQ");
    cuK = int32ArrayArg(opt.Get("cuSeqlensK"), "cuSeqlensK");
    checkCuSeqlens(cuQ, a.Tq, "cuSeqlensQ");
    checkCuSeqlens(cuK, a.Tk, "cuSeqlensK");
    if (cuQ.size() != cuK.size()) throw std::invalid_argument(name + ": 'cuSeqlensQ' and 'cuSeqlensK' describe different numbers of sequences");
    a.cuSeqlensQ = cuQ.data(); a.cuSeqlensK = cuK.data(); a.numSeqs = int64_t(cuQ.size()) - 1;
  }
  a.q = static_cast<const float*>(q->data()); a.k = static_cast<const float*>(k->data());
  a.v = static_cast<const float*>(v->data());
  a.causal = opt.Get("causal").ToBoolean();
  a.scale = opt.Has("scale") && !opt.Get("scale").IsUndefined() ? opt.Get("scale").ToNumber().FloatValue()
                                                                  : float(1.0 / std::sqrt(double(a.D)));
}

Napi::Object optionsArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsObject() ? info[i].As<Napi::Object>() : Napi::Object::New(info.Env());
}

// attention(q [Tq,Hq,D], k [Tk,Hkv,D], v, out [Tq,Hq,D], { causal, scale, cuSeqlensQ, cuSeqlensK, lse })
Napi::Value attention(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* q = tensorArg(info[0], "q"); auto* k = tensorArg(info[1], "k"); auto* v = tensorArg(info[2], "v");
  auto* out = tensorArg(info[3], "out");
  Napi::Object opt = optionsArg(info, 4);
  const TensorHandle* lse = opt.Get("lse").IsObject() ? tensorArg(opt.Get("lse"), "lse") : nullptr;
  requireSameDevice({{q, "q"}, {k, "k"}, {v, "v"}, {out, "out"}, {lse, "lse"}});
  AttentionArgs a;
  std::vector<int32_t> cuQ, cuK;
  readAttentionInputs("attention", q, k, v, opt, a, cuQ, cuK);
  requireDtype(out, "out", {DType::F32});
  requireShape(out, "out", q->shape());
  if (lse) { requireDtype(lse, "lse", {DType::F32}); requireShape(lse, "lse", {a.Hq, a.Tq}); }
  a.out = static_cast<float*>(out->data());
  a.lse = lse ? static_cast<float*>(lse->data()) : nullptr;
  if (a.Tq == 0 || a.Hq == 0 || a.D == 0) return env.Undefined();
  GMAI_CALL(env, q, attention, a);
  return env.Undefined();
}

// attentionBackward(q, k, v, out, lse [Hq,Tq], dout [Tq,Hq,D], dq [Tq,Hq,D], dk [Tk,Hkv,D], dv,
//                   { causal, scale, cuSeqlensQ, cuSeqlensK }): out and lse from the forward.
Napi::Value attentionBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* q = tensorArg(info[0], "q"); auto* k = tensorArg(info[1], "k"); auto* v = tensorArg(info[2], "v");
  auto* out = tensorArg(info[3], "out"); auto* lse = tensorArg(info[4], "lse"); auto* dout = tensorArg(info[5], "dout");
  auto* dq = tensorArg(info[6], "dq"); auto* dk = tensorArg(info[7], "dk"); auto* dv = tensorArg(info[8], "dv");
  Napi::Object opt = optionsArg(info, 9);
  requireSameDevice({{q, "q"}, {k, "k"}, {v, "v"}, {out, "out"}, {lse, "lse"}, {dout, "dout"}, {dq, "dq"}, {dk, "dk"}, {dv, "dv"}});
  AttentionBackwardArgs a;
  std::vector<int32_t> cuQ, cuK;
  readAttentionInputs("attentionBackward", q, k, v, opt, a, cuQ, cuK);
  for (auto [t, n] : {std::pair{out, "out"}, {lse, "lse"}, {dout, "dout"}, {dq, "dq"}, {dk, "dk"}, {dv, "dv"}})
    requireDtype(t, n, {DType::F32});
  requireShape(out, "out", q->shape());
  requireShape(lse, "lse", {a.Hq, a.Tq});
  requireShape(dout, "dout", q->shape());
  requireShape(dq, "dq", q->shape());
  requireShape(dk, "dk", k->shape());
  requireShape(dv, "dv", k->shape());
  a.out = static_cast<const float*>(out->data()); a.lse = static_cast<const float*>(lse->data());
  a.dout = static_cast<const float*>(dout->data());
  a.dq = static_cast<float*>(dq->data()); a.dk = static_cast<float*>(dk->data()); a.dv = static_cast<float*>(dv->data());
  if (a.Hq == 0) throw std::invalid_argument("attentionBackward: 'q' has no heads");
  if (a.D == 0 || (a.Tq == 0 && a.Tk == 0)) return env.Undefined();  // nothing to write
  GMAI_CALL(env, q, attentionBackward, a);
  return env.Undefined();
}

// rope(x [T,H,D], cos [T,D/2], sin [T,D/2], out [T,H,D]); ropeBackward(dy, cos, sin, dx) with
// the same shapes (the tensor names in errors follow the op).
RopeArgs ropeArgs(const Napi::CallbackInfo& info, const char* op, const char* xName, const char* outName) {
  auto* x = tensorArg(info[0], xName); auto* c = tensorArg(info[1], "cos"); auto* s = tensorArg(info[2], "sin");
  auto* out = tensorArg(info[3], outName);
  for (auto [t, n] : {std::pair{x, xName}, {c, "cos"}, {s, "sin"}, {out, outName}}) requireDtype(t, n, {DType::F32});
  requireSameDevice({{x, xName}, {c, "cos"}, {s, "sin"}, {out, outName}});
  if (x->shape().size() != 3)
    throw std::invalid_argument(std::string(op) + ": '" + xName + "' must be [T, heads, headDim], got " + shapeString(x->shape()));
  RopeArgs a; a.T = x->shape()[0]; a.H = x->shape()[1]; a.D = x->shape()[2];
  if (a.D % 2) throw std::invalid_argument(std::string(op) + ": head size " + std::to_string(a.D) + " must be even");
  requireShape(c, "cos", {a.T, a.D / 2}); requireShape(s, "sin", {a.T, a.D / 2}); requireShape(out, outName, x->shape());
  a.x = static_cast<const float*>(x->data()); a.out = static_cast<float*>(out->data());
  a.cos = static_cast<const float*>(c->data()); a.sin = static_cast<const float*>(s->data());
  return a;
}

Napi::Value rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RopeArgs a = ropeArgs(info, "rope", "x", "out");
  if (a.T * a.H * a.D != 0) GMAI_CALL(env, tensorArg(info[0], "x"), rope, a);
  return env.Undefined();
}

Napi::Value ropeBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RopeArgs a = ropeArgs(info, "ropeBackward", "dy", "dx");
  if (a.T * a.H * a.D != 0) GMAI_CALL(env, tensorArg(info[0], "dy"), ropeBackward, a);
  return env.Undefined();
}

// scatterRows(dst [N, d], idx Int32Array [M], src [M, d]): dst[idx[i]] = src[i]
Napi::Value scatterRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* dst = tensorArg(info[0], "dst");
  auto idx = int32ArrayArg(info[1], "idx");
  auto* src = tensorArg(info[2], "src");
  requireDtype(dst, "dst", {DType::F32}); requireDtype(src, "src", {DType::F32});
  requireSameDevice({{dst, "dst"}, {src, "src"}});
  if (dst->shape().size() != 2) throw std::invalid_argument("scatterRows: 'dst' must be [rows, dim], got " + shapeString(dst->shape()));
  const int64_t rows = dst->shape()[0], dim = dst->shape()[1];
  requireShape(src, "src", {int64_t(idx.size()), dim});
  for (size_t i = 0; i < idx.size(); ++i)
    if (idx[i] < 0 || idx[i] >= rows)
      throw std::invalid_argument("scatterRows: 'idx'[" + std::to_string(i) + "] = " + std::to_string(idx[i]) + " is outside 'dst' rows [0, " + std::to_string(rows) + ")");
  ScatterRowsArgs a; a.count = int64_t(idx.size()); a.dim = dim; a.idx = idx.data();
  a.src = static_cast<const float*>(src->data()); a.dst = static_cast<float*>(dst->data());
  if (a.count && dim) GMAI_CALL(env, dst, scatterRows, a);
  return env.Undefined();
}

Napi::Value gelu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* x = tensorArg(info[0], "x"); auto* out = tensorArg(info[1], "out");
  requireDtype(x, "x", {DType::F32}); requireDtype(out, "out", {DType::F32});
  requireSameDevice({{x, "x"}, {out, "out"}});
  if (x->numel() != out->numel()) throw std::invalid_argument("gelu: 'x' and 'out' differ in size");
  GeluArgs a; a.n = x->numel(); a.x = static_cast<const float*>(x->data()); a.out = static_cast<float*>(out->data());
  if (a.n) GMAI_CALL(env, x, gelu, a);
  return env.Undefined();
}

// geluBackward(dy, x, dx): see GeluBackwardArgs.
Napi::Value geluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* dy = tensorArg(info[0], "dy"); auto* x = tensorArg(info[1], "x"); auto* dx = tensorArg(info[2], "dx");
  for (auto [t, n] : {std::pair{dy, "dy"}, {x, "x"}, {dx, "dx"}}) requireDtype(t, n, {DType::F32});
  requireSameDevice({{dy, "dy"}, {x, "x"}, {dx, "dx"}});
  requireShape(dy, "dy", x->shape()); requireShape(dx, "dx", x->shape());
  GeluBackwardArgs a; a.n = x->numel();
  a.dy = static_cast<const float*>(dy->data()); a.x = static_cast<const float*>(x->data()); a.dx = static_cast<float*>(dx->data());
  if (a.n) GMAI_CALL(env, x, geluBackward, a);
  return env.Undefined();
}

}  // namespace

GMAI_ADDON_MODULE(attention_api) {
  exports.Set("attention", Napi::Function::New(env, attention, "attention"));
  exports.Set("attentionBackward", Napi::Function::New(env, attentionBackward, "attentionBackward"));
  exports.Set("rope", Napi::Function::New(env, rope, "rope"));
  exports.Set("ropeBackward", Napi::Function::New(env, ropeBackward, "ropeBackward"));
  exports.Set("scatterRows", Napi::Function::New(env, scatterRows, "scatterRows"));
  exports.Set("gelu", Napi::Function::New(env, gelu, "gelu"));
  exports.Set("geluBackward", Napi::Function::New(env, geluBackward, "geluBackward"));
}

}  // namespace gmai
