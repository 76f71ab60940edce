// JS bindings of the foundation ops. Each binding checks shapes, dtypes and devices (errors
// name the tensor), then calls the backend of the tensors' device.
#include "host_cache.h"
#include "dispatch.h"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include "gmai/ops.h"

namespace gmai {
namespace {

const TensorHandle* optionalTensor(const Napi::Value& v, const char* name) {
  return (v.IsUndefined() || v.IsNull()) ? nullptr : tensorArg(v, name);
}

// The GemmArgs of c = alpha·op(a)·op(b) (+ bias) + beta·c after checking the tensors:
// a [.., M, K] or [.., K, M] (transA) f32, b [.., K, N] or [.., N, K] (transB) f32/bf16/f16,
// c [.., M, N] f32. Leading dims of a and c are the batch; b is either shared (2-D) or batched like a.
GemmArgs gemmArgs(const TensorHandle* a, const TensorHandle* b, const TensorHandle* c, const TensorHandle* bias,
                  bool transA, bool transB, const char* bName, const char* cName) {
  requireDtype(a, "a", {DType::F32});
  requireDtype(b, bName, {DType::F32, DType::BF16, DType::F16});
  requireDtype(c, cName, {DType::F32});
  requireSameDevice({{a, "a"}, {b, bName}, {c, cName}, {bias, "bias"}});
  if (a->shape().size() < 2 || b->shape().size() < 2 || c->shape().size() < 2)
    throw std::invalid_argument(std::string("gemm: 'a', '") + bName + "' and '" + cName + "' need at least 2 dimensions");
  auto& as = a->shape(); auto& bs = b->shape();
  int64_t M = transA ? as.back() : as[as.size() - 2], K = transA ? as[as.size() - 2] : as.back();
  int64_t bK = transB ? bs.back() : bs[bs.size() - 2], N = transB ? bs[bs.size() - 2] : bs.back();
  if (bK != K)
    throw std::invalid_argument("gemm: 'a' is " + shapeString(as) + (transA ? " ([K, M])" : "") + " but '" + bName + "' " +
                                shapeString(bs) + (transB ? " ([N, K])" : " ([K, N])") + " has K = " + std::to_string(bK));
  int64_t batch = 1; for (size_t i = 0; i + 2 < as.size(); ++i) batch *= as[i];
  int64_t bBatch = 1; for (size_t i = 0; i + 2 < bs.size(); ++i) bBatch *= bs[i];
  if (bBatch != 1 && bBatch != batch)
    throw std::invalid_argument("gemm: '" + std::string(bName) + "' batch " + std::to_string(bBatch) + " does not match 'a' batch " + std::to_string(batch));
  std::vector<int64_t> cs(as.begin(), as.end() - 2); cs.push_back(M); cs.push_back(N);
  requireShape(c, cName, cs);
  if (bias) requireShape(bias, "bias", {N}), requireDtype(bias, "bias", {DType::F32});
  GemmArgs g;
  g.batch = batch; g.M = M; g.N = N; g.K = K;
  g.A = static_cast<const float*>(a->data()); g.aTransposed = transA; g.lda = transA ? M : K; g.strideA = M * K;
  g.B = b->data(); g.dtypeB = b->dtype(); g.bTransposed = transB;
  g.ldb = transB ? K : N; g.strideB = bBatch == 1 ? 0 : K * N;
  g.C = static_cast<float*>(c->data()); g.ldc = N; g.strideC = M * N;
  g.bias = bias ? static_cast<const float*>(bias->data()) : nullptr;
  return g;
}

// gemm(a, b, c, { transA, transB, alpha, beta, bias }): see gemmArgs.
Napi::Value gemm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* a = tensorArg(info[0], "a");
  auto* b = tensorArg(info[1], "b");
  auto* c = tensorArg(info[2], "c");
  Napi::Object opt = info[3].IsObject() ? info[3].As<Napi::Object>() : Napi::Object::New(env);
  GemmArgs g = gemmArgs(a, b, c, optionalTensor(opt.Get("bias"), "bias"), opt.Get("transA").ToBoolean(),
                        opt.Get("transB").ToBoolean(), "b", "c");
  if (opt.Has("alpha")) g.alpha = opt.Get("alpha").ToNumber().FloatValue();
  if (opt.Has("beta")) g.beta = opt.Get("beta").ToNumber().FloatValue();
  if (g.batch * g.M * g.N == 0) return env.Undefined();
  GMAI_CALL(env, a, gemm, g);
  return env.Undefined();
}

// gemmGroup(a [M, K], [b0, b1, ..], [c0, c1, ..], [bias0 | undefined, ..], { transB }):
// c_i = a·op(b_i) + bias_i for every i, in one call (see GemmGroupArgs).
Napi::Value gemmGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* a = tensorArg(info[0], "a");
  if (!info[1].IsArray() || !info[2].IsArray())
    throw std::invalid_argument("gemmGroup: 'b' and 'c' must be arrays of tensors");
  Napi::Array bs = info[1].As<Napi::Array>(), cs = info[2].As<Napi::Array>();
  Napi::Array biases = info[3].IsArray() ? info[3].As<Napi::Array>() : Napi::Array::New(env);
  const bool transB = info[4].IsObject() && info[4].As<Napi::Object>().Get("transB").ToBoolean();
  const uint32_t n = bs.Length();
  if (n == 0 || n > uint32_t(kMaxGemmGroup) || cs.Length() != n)
    throw std::invalid_argument("gemmGroup: give 1 to " + std::to_string(kMaxGemmGroup) + " weights 'b' and as many outputs 'c'");
  if (a->shape().size() != 2) throw std::invalid_argument("gemmGroup: 'a' must be [M, K], got " + shapeString(a->shape()));
  GemmGroupArgs g;
  g.count = int(n);
  for (uint32_t i = 0; i < n; ++i) {
    const std::string bName = "b[" + std::to_string(i) + "]", cName = "c[" + std::to_string(i) + "]";
    const TensorHandle* bias = i < biases.Length() ? optionalTensor(biases.Get(i), "bias") : nullptr;
    g.parts[i] = gemmArgs(a, tensorArg(bs.Get(i), bName.c_str()), tensorArg(cs.Get(i), cName.c_str()), bias, false, transB,
                          bName.c_str(), cName.c_str());
    if (g.parts[i].batch != 1) throw std::invalid_argument("gemmGroup: '" + bName + "' must be a single 2-D matrix");
  }
  if (g.parts[0].M == 0) return env.Undefined();
  GMAI_CALL(env, a, gemmGroup, g);
  return env.Undefined();
}

void requireSameNumel(const TensorHandle* x, const char* xn, const TensorHandle* y, const char* yn) {
  if (x->numel() != y->numel())
    throw std::invalid_argument("tensors '" + std::string(xn) + "' " + shapeString(x->shape()) + " and '" + yn +
                                "' " + shapeString(y->shape()) + " differ in size");
}

// binary(op, a, b, out): b broadcasts over a when its size divides a's (e.g. a bias row)
Napi::Value binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int op = info[0].As<Napi::Number>().Int32Value();
  if (op < 0 || op > 3) throw std::invalid_argument("binary: unknown op code");
  auto* a = tensorArg(info[1], "a"); auto* b = tensorArg(info[2], "b"); auto* out = tensorArg(info[3], "out");
  for (auto [t, n] : {std::pair{a, "a"}, {b, "b"}, {out, "out"}}) requireDtype(t, n, {DType::F32});
  requireSameDevice({{a, "a"}, {b, "b"}, {out, "out"}});
  requireSameNumel(a, "a", out, "out");
  if (b->numel() == 0 ? a->numel() != 0 : a->numel() % b->numel() != 0)
    throw std::invalid_argument("binary: 'b' " + shapeString(b->shape()) + " does not broadcast over 'a' " + shapeString(a->shape()));
  BinaryArgs args; args.op = BinaryOp(op); args.n = a->numel(); args.bCount = b->numel();
  args.a = static_cast<const float*>(a->data()); args.b = static_cast<const float*>(b->data());
  args.out = static_cast<float*>(out->data());
  if (args.n) GMAI_CALL(env, a, binary, args);
  return env.Undefined();
}

Napi::Value scale(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* a = tensorArg(info[0], "a"); auto* out = tensorArg(info[1], "out");
  requireDtype(a, "a", {DType::F32}); requireDtype(out, "out", {DType::F32});
  requireSameDevice({{a, "a"}, {out, "out"}}); requireSameNumel(a, "a", out, "out");
  ScaleArgs args; args.n = a->numel(); args.a = static_cast<const float*>(a->data());
  args.out = static_cast<float*>(out->data());
  args.scale = info[2].ToNumber().FloatValue(); args.shift = info[3].IsUndefined() ? 0.0f : info[3].ToNumber().FloatValue();
  if (args.n) GMAI_CALL(env, a, scale, args);
  return env.Undefined();
}

Napi::Value swiglu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* g = tensorArg(info[0], "gate"); auto* u = tensorArg(info[1], "up"); auto* out = tensorArg(info[2], "out");
  for (auto [t, n] : {std::pair{g, "gate"}, {u, "up"}, {out, "out"}}) requireDtype(t, n, {DType::F32});
  requireSameDevice({{g, "gate"}, {u, "up"}, {out, "out"}});
  requireSameNumel(g, "gate", u, "up"); requireSameNumel(g, "gate", out, "out");
  SwigluArgs args; args.n = g->numel(); args.gate = static_cast<const float*>(g->data());
  args.up = static_cast<const float*>(u->data()); args.out = static_cast<float*>(out->data());
  if (args.n) GMAI_CALL(env, g, swiglu, args);
  return env.Undefined();
}

// swigluBackward(dy, gate, up, dgate, dup): see SwigluBackwardArgs.
Napi::Value swigluBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* dy = tensorArg(info[0], "dy"); auto* g = tensorArg(info[1], "gate"); auto* u = tensorArg(info[2], "up");
  auto* dg = tensorArg(info[3], "dgate"); auto* du = tensorArg(info[4], "dup");
  const std::initializer_list<std::pair<const TensorHandle*, const char*>> all = {{dy, "dy"}, {g, "gate"}, {u, "up"}, {dg, "dgate"}, {du, "dup"}};
  for (auto [t, n] : all) requireDtype(t, n, {DType::F32});
  requireSameDevice(all);
  for (auto [t, n] : all) requireSameNumel(g, "gate", t, n);
  SwigluBackwardArgs args; args.n = g->numel();
  args.dy = static_cast<const float*>(dy->data()); args.gate = static_cast<const float*>(g->data());
  args.up = static_cast<const float*>(u->data());
  args.dgate = static_cast<float*>(dg->data()); args.dup = static_cast<float*>(du->data());
  if (args.n) GMAI_CALL(env, g, swigluBackward, args);
  return env.Undefined();
}

Napi::Value softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* x = tensorArg(info[0], "x"); auto* out = tensorArg(info[1], "out");
  requireDtype(x, "x", {DType::F32}); requireDtype(out, "out", {DType::F32});
  requireSameDevice({{x, "x"}, {out, "out"}}); requireSameNumel(x, "x", out, "out");
  if (x->shape().empty()) throw std::invalid_argument("softmax: 'x' needs at least one dimension");
  SoftmaxArgs args; args.cols = x->shape().back(); args.rows = args.cols ? x->numel() / args.cols : 0;
  args.x = static_cast<const float*>(x->data()); args.out = static_cast<float*>(out->data());
  args.scale = info[2].IsUndefined() ? 1.0f : info[2].ToNumber().FloatValue();
  if (x->numel()) GMAI_CALL(env, x, softmax, args);
  return env.Undefined();
}

// softmaxBackward(y, dy, dx, scale): y = softmax(x·scale) over the last dimension.
Napi::Value softmaxBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* y = tensorArg(info[0], "y"); auto* dy = tensorArg(info[1], "dy"); auto* dx = tensorArg(info[2], "dx");
  for (auto [t, n] : {std::pair{y, "y"}, {dy, "dy"}, {dx, "dx"}}) requireDtype(t, n, {DType::F32});
  requireSameDevice({{y, "y"}, {dy, "dy"}, {dx, "dx"}});
  if (y->shape().empty()) throw std::invalid_argument("softmaxBackward: 'y' needs at least one dimension");
  requireShape(dy, "dy", y->shape()); requireShape(dx, "dx", y->shape());
  SoftmaxBackwardArgs args; args.cols = y->shape().back(); args.rows = args.cols ? y->numel() / args.cols : 0;
  args.y = static_cast<const float*>(y->data()); args.dy = static_cast<const float*>(dy->data());
  args.dx = static_cast<float*>(dx->data());
  args.scale = info[3].IsUndefined() ? 1.0f : info[3].ToNumber().FloatValue();
  if (y->numel()) GMAI_CALL(env, y, softmaxBackward, args);
  return env.Undefined();
}

// sumRows(x [.., cols], out [cols], accumulate): column sums over all leading dimensions.
Napi::Value sumRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* x = tensorArg(info[0], "x"); auto* out = tensorArg(info[1], "out");
  requireDtype(x, "x", {DType::F32}); requireDtype(out, "out", {DType::F32});
  requireSameDevice({{x, "x"}, {out, "out"}});
  if (x->shape().empty()) throw std::invalid_argument("sumRows: 'x' needs at least one dimension");
  SumRowsArgs args; args.cols = x->shape().back();
  requireShape(out, "out", {args.cols});
  args.rows = args.cols ? x->numel() / args.cols : 0;
  args.x = static_cast<const float*>(x->data()); args.out = static_cast<float*>(out->data());
  args.accumulate = info[2].ToBoolean();
  if (args.cols) GMAI_CALL(env, x, sumRows, args);  // rows = 0: zeros (or out unchanged when accumulating)
  return env.Undefined();
}

Napi::Value convert(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* src = tensorArg(info[0], "src"); auto* dst = tensorArg(info[1], "dst");
  requireSameDevice({{src, "src"}, {dst, "dst"}}); requireSameNumel(src, "src", dst, "dst");
  requireDtype(src, "src", {DType::F32, DType::BF16, DType::F16, DType::F64});
  if (src->dtype() == DType::F32) requireDtype(dst, "dst", {DType::F32, DType::BF16, DType::F16});
  else if (src->dtype() != dst->dtype()) requireDtype(dst, "dst", {DType::F32});
  ConvertArgs args; args.n = src->numel(); args.src = src->data(); args.srcType = src->dtype();
  args.dst = dst->data(); args.dstType = dst->dtype();
  if (args.n) GMAI_CALL(env, src, convert, args);
  return env.Undefined();
}

// ids are validated on the host so no kernel reads or writes out of bounds.
void checkIds(const TensorHandle* ids, int64_t rows, const char* op) {
  std::vector<char> bytes = hostBytes(ids);
  const int32_t* p = reinterpret_cast<const int32_t*>(bytes.data());
  for (int64_t i = 0; i < ids->numel(); ++i)
    if (p[i] < 0 || p[i] >= rows)
      throw std::invalid_argument(std::string(op) + ": 'ids'[" + std::to_string(i) + "] = " + std::to_string(p[i]) +
                                  " is outside the table of " + std::to_string(rows) + " rows");
}

// embedding(ids [n] i32, table [rows, dim], out [n, dim] f32)
Napi::Value embedding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ids = tensorArg(info[0], "ids"); auto* table = tensorArg(info[1], "table"); auto* out = tensorArg(info[2], "out");
  requireDtype(ids, "ids", {DType::I32}); requireDtype(table, "table", {DType::F32, DType::BF16, DType::F16});
  requireDtype(out, "out", {DType::F32});
  requireSameDevice({{ids, "ids"}, {table, "table"}, {out, "out"}});
  if (table->shape().size() != 2) throw std::invalid_argument("embedding: 'table' must be [rows, dim]");
  int64_t rows = table->shape()[0], dim = table->shape()[1];
  requireShape(out, "out", {ids->numel(), dim});
  checkIds(ids, rows, "embedding");
  EmbeddingArgs args; args.count = ids->numel(); args.dim = dim; args.rows = rows;
  args.ids = static_cast<const int32_t*>(ids->data()); args.table = table->data(); args.tableType = table->dtype();
  args.out = static_cast<float*>(out->data());
  if (args.count) GMAI_CALL(env, ids, embedding, args);
  return env.Undefined();
}

// embeddingBackward(ids [n] i32, dy [n, dim] f32, dtable [rows, dim] f32): dtable[ids[i]] += dy[i]
Napi::Value embeddingBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* ids = tensorArg(info[0], "ids"); auto* dy = tensorArg(info[1], "dy"); auto* dt = tensorArg(info[2], "dtable");
  requireDtype(ids, "ids", {DType::I32}); requireDtype(dy, "dy", {DType::F32}); requireDtype(dt, "dtable", {DType::F32});
  requireSameDevice({{ids, "ids"}, {dy, "dy"}, {dt, "dtable"}});
  if (dt->shape().size() != 2) throw std::invalid_argument("embeddingBackward: 'dtable' must be [rows, dim], got " + shapeString(dt->shape()));
  const int64_t rows = dt->shape()[0], dim = dt->shape()[1];
  requireShape(dy, "dy", {ids->numel(), dim});
  checkIds(ids, rows, "embeddingBackward");
  EmbeddingBackwardArgs args; args.count = ids->numel(); args.dim = dim; args.rows = rows;
  args.ids = static_cast<const int32_t*>(ids->data()); args.dy = static_cast<const float*>(dy->data());
  args.dtable = static_cast<float*>(dt->data());
  if (args.count && dim) GMAI_CALL(env, ids, embeddingBackward, args);
  return env.Undefined();
}

// rmsnorm(x [.., dim] f32, weight [dim] | null, out, eps, invRms? [rows] f32)
Napi::Value rmsnorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* x = tensorArg(info[0], "x");
  const TensorHandle* w = optionalTensor(info[1], "weight");
  auto* out = tensorArg(info[2], "out");
  const TensorHandle* inv = optionalTensor(info[4], "invRms");
  requireDtype(x, "x", {DType::F32}); requireDtype(out, "out", {DType::F32});
  requireSameDevice({{x, "x"}, {w, "weight"}, {out, "out"}, {inv, "invRms"}});
  requireSameNumel(x, "x", out, "out");
  if (x->shape().empty()) throw std::invalid_argument("rmsnorm: 'x' needs at least one dimension");
  RmsNormArgs args; args.dim = x->shape().back(); args.rows = args.dim ? x->numel() / args.dim : 0;
  if (w) { requireDtype(w, "weight", {DType::F32, DType::BF16, DType::F16}); requireShape(w, "weight", {args.dim}); }
  if (inv) { requireDtype(inv, "invRms", {DType::F32}); requireShape(inv, "invRms", {args.rows}); }
  args.x = static_cast<const float*>(x->data()); args.weight = w ? w->data() : nullptr;
  args.weightType = w ? w->dtype() : DType::F32; args.out = static_cast<float*>(out->data());
  args.invRms = inv ? static_cast<float*>(inv->data()) : nullptr;
  args.eps = info[3].ToNumber().FloatValue();
  if (x->numel()) GMAI_CALL(env, x, rmsnorm, args);
  return env.Undefined();
}

// rmsnormBackward(dy, x [.., dim] f32, weight [dim] | null, invRms [rows] f32, dx, dweight [dim] f32 | null)
Napi::Value rmsnormBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* dy = tensorArg(info[0], "dy"); auto* x = tensorArg(info[1], "x");
  const TensorHandle* w = optionalTensor(info[2], "weight");
  auto* inv = tensorArg(info[3], "invRms"); auto* dx = tensorArg(info[4], "dx");
  const TensorHandle* dw = optionalTensor(info[5], "dweight");
  for (auto [t, n] : {std::pair{dy, "dy"}, {x, "x"}, {inv, "invRms"}, {dx, "dx"}}) requireDtype(t, n, {DType::F32});
  requireSameDevice({{dy, "dy"}, {x, "x"}, {w, "weight"}, {inv, "invRms"}, {dx, "dx"}, {dw, "dweight"}});
  if (x->shape().empty()) throw std::invalid_argument("rmsnormBackward: 'x' needs at least one dimension");
  requireShape(dy, "dy", x->shape()); requireShape(dx, "dx", x->shape());
  RmsNormBackwardArgs args; args.dim = x->shape().back(); args.rows = args.dim ? x->numel() / args.dim : 0;
  if (w) { requireDtype(w, "weight", {DType::F32, DType::BF16, DType::F16}); requireShape(w, "weight", {args.dim}); }
  requireShape(inv, "invRms", {args.rows});
  if (dw) { requireDtype(dw, "dweight", {DType::F32}); requireShape(dw, "dweight", {args.dim}); }
  args.dy = static_cast<const float*>(dy->data()); args.x = static_cast<const float*>(x->data());
  args.weight = w ? w->data() : nullptr; args.weightType = w ? w->dtype() : DType::F32;
  args.invRms = static_cast<const float*>(inv->data()); args.dx = static_cast<float*>(dx->data());
  args.dweight = dw ? static_cast<float*>(dw->data()) : nullptr;
  if (x->numel()) GMAI_CALL(env, x, rmsnormBackward, args);
  return env.Undefined();
}

// setComputeNice(nice): lowers the scheduling priority of the calling thread and of this
// instance's pool threads (Linux). A model worker calls it so that the host's event loop, at
// normal priority, preempts generation instead of waiting for a time slice.
Napi::Value setComputeNice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int nice = info[0].ToNumber().Int32Value();
  if (nice < 0 || nice > 19) throw std::invalid_argument("setComputeNice: 'nice' must be in 0..19");
#ifdef __linux__
  addonData(env).pool->run([nice](int, int) { setpriority(PRIO_PROCESS, pid_t(syscall(SYS_gettid)), nice); });
  return Napi::Boolean::New(env, true);
#else
  return Napi::Boolean::New(env, false);
#endif
}

// opTable() -> [{ name, cuda }]: the op list of gmai/ops.h; `cuda` is whether this build runs
// the op on CUDA tensors (the GPU parity suite walks this list).
Napi::Value opTable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env);
#ifdef GMAI_WITH_CUDA
  constexpr bool cudaBuild = true;
#else
  constexpr bool cudaBuild = false;
#endif
#define GMAI_OP_ENTRY(name, Args, backends)                                            \
  {                                                                                    \
    Napi::Object o = Napi::Object::New(env);                                           \
    o.Set("name", #name);                                                              \
    o.Set("cuda", cudaBuild && OpBackends::backends == OpBackends::CpuAndCuda);        \
    out.Set(out.Length(), o);                                                          \
  }
  GMAI_OPS(GMAI_OP_ENTRY)
#undef GMAI_OP_ENTRY
  return out;
}

Napi::Value runtimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  const CpuFeatures& f = cpuFeatures();
  o.Set("cpuIsa", cpuIsaName(f.isa));
  o.Set("avx512bf16", f.avx512bf16);
  o.Set("threads", addonData(env).pool->size());
  const HostCacheStats cache = hostCacheStats();
  o.Set("hostCacheBytes", double(cache.cachedBytes));
  o.Set("hostCacheCapBytes", double(cache.capBytes));
#ifdef GMAI_WITH_CUDA
  o.Set("cuda", true);
#else
  o.Set("cuda", false);
#endif
  return o;
}

}  // namespace

GMAI_ADDON_MODULE(ops_api) {
  exports.Set("gemm", Napi::Function::New(env, gemm, "gemm"));
  exports.Set("gemmGroup", Napi::Function::New(env, gemmGroup, "gemmGroup"));
  exports.Set("binary", Napi::Function::New(env, binary, "binary"));
  exports.Set("scale", Napi::Function::New(env, scale, "scale"));
  exports.Set("swiglu", Napi::Function::New(env, swiglu, "swiglu"));
  exports.Set("swigluBackward", Napi::Function::New(env, swigluBackward, "swigluBackward"));
  exports.Set("softmax", Napi::Function::New(env, softmax, "softmax"));
  exports.Set("softmaxBackward", Napi::Function::New(env, softmaxBackward, "softmaxBackward"));
  exports.Set("sumRows", Napi::Function::New(env, sumRows, "sumRows"));
  exports.Set("convert", Napi::Function::New(env, convert, "convert"));
  exports.Set("embedding", Napi::Function::New(env, embedding, "embedding"));
  exports.Set("embeddingBackward", Napi::Function::New(env, embeddingBackward, "embeddingBackward"));
  exports.Set("rmsnorm", Napi::Function::New(env, rmsnorm, "rmsnorm"));
  exports.Set("rmsnormBackward", Napi::Function::New(env, rmsnormBackward, "rmsnormBackward"));
  exports.Set("opTable", Napi::Function::New(env, opTable, "opTable"));
  exports.Set("runtimeInfo", Napi::Function::New(env, runtimeInfo, "runtimeInfo"));
  exports.Set("setComputeNice", Napi::Function::New(env, setComputeNice, "setComputeNice"));
}

}  // namespace gmai
