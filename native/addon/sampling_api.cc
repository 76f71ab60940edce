// JS binding of the sampling op: checks the logits and outputs, expands shared parameters to
// one value per row, validates every parameter and penalty-history entry (errors name the
// field and row), runs the kernel, then turns a bad row's status into an Error naming it.
// The parameters, the history and the status array are host memory on both backends: the
// CUDA op copies what it needs to the device and the status back before it returns.
#include <cmath>
#include <string>
#include <vector>

#include "gmai/ops.h"
#include "philox.h"  // for the known-answer test hook
#include "dispatch.h"

namespace gmai {
namespace {

std::string rowName(int64_t r) { return "row " + std::to_string(r); }

// A per-row parameter given as a typed array of length 1 (shared) or `rows`.
template <typename T, typename ArrayT>
std::vector<T> perRow(const Napi::Object& params, const char* field, int64_t rows, T fallback) {
  Napi::Value v = params.Get(field);
  if (v.IsUndefined() || v.IsNull()) return std::vector<T>(size_t(rows), fallback);
  if (!v.IsTypedArray()) throw std::invalid_argument(std::string("sample: '") + field + "' must be a typed array");
  Napi::TypedArrayOf<ArrayT> arr = v.As<Napi::TypedArrayOf<ArrayT>>();  // type checked by requireArrayType
  size_t n = arr.ElementLength();
  if (n != 1 && int64_t(n) != rows)
    throw std::invalid_argument(std::string("sample: '") + field + "' has " + std::to_string(n) +
                                " values; give 1 (shared) or one per row (" + std::to_string(rows) + ")");
  std::vector<T> out(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) out[size_t(r)] = T(arr[n == 1 ? 0 : size_t(r)]);
  return out;
}

void requireArrayType(const Napi::Object& params, const char* field, napi_typedarray_type type, const char* typeName) {
  Napi::Value v = params.Get(field);
  if (v.IsUndefined() || v.IsNull()) return;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type)
    throw std::invalid_argument(std::string("sample: '") + field + "' must be a " + typeName);
}

template <typename T, typename Pred>
void checkEach(const std::vector<T>& values, const char* field, Pred ok, const char* rule) {
  for (size_t r = 0; r < values.size(); ++r)
    if (!ok(values[r]))
      throw std::invalid_argument(std::string("sample: '") + field + "' for " + rowName(int64_t(r)) + " is " +
                                  std::to_string(values[r]) + "; it must be " + rule);
}

std::vector<int32_t> int32Array(const Napi::Object& params, const char* field) {
  Napi::Value v = params.Get(field);
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw std::invalid_argument(std::string("sample: '") + field + "' must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int32_t>(a.Data(), a.Data() + a.ElementLength());
}

// sample(logits [rows, vocab] f32, tokens [rows] i32, logprobs [rows] f32, rawLogprobs [rows] f32,
//        params { temperature, topK, topP, minP, repetitionPenalty, presencePenalty,
//                 frequencyPenalty: typed arrays of 1 or rows values; seed, stream, step:
//                 BigUint64Array; historyOffsets [rows+1], historyIds, historyCounts: Int32Array })
Napi::Value sample(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto* logits = tensorArg(info[0], "logits");
  auto* tokens = tensorArg(info[1], "tokens");
  auto* logprobs = tensorArg(info[2], "logprobs");
  auto* raw = tensorArg(info[3], "rawLogprobs");
  if (!info[4].IsObject()) throw std::invalid_argument("sample: 'params' must be an object");
  Napi::Object params = info[4].As<Napi::Object>();
  requireDtype(logits, "logits", {DType::F32});
  requireDtype(tokens, "tokens", {DType::I32});
  requireDtype(logprobs, "logprobs", {DType::F32});
  requireDtype(raw, "rawLogprobs", {DType::F32});
  requireSameDevice({{logits, "logits"}, {tokens, "tokens"}, {logprobs, "logprobs"}, {raw, "rawLogprobs"}});
  if (logits->shape().size() != 2)
    throw std::invalid_argument("sample: 'logits' must be [rows, vocab], got " + shapeString(logits->shape()));
  const int64_t rows = logits->shape()[0], vocab = logits->shape()[1];
  if (vocab < 1) throw std::invalid_argument("sample: 'logits' has an empty vocabulary");
  if (vocab > INT32_MAX) throw std::invalid_argument("sample: 'logits' vocabulary does not fit int32 token ids");
  requireShape(tokens, "tokens", {rows});
  requireShape(logprobs, "logprobs", {rows});
  requireShape(raw, "rawLogprobs", {rows});

  for (const char* f : {"temperature", "topP", "minP", "repetitionPenalty", "presencePenalty", "frequencyPenalty"})
    requireArrayType(params, f, napi_float32_array, "Float32Array");
  requireArrayType(params, "topK", napi_int32_array, "Int32Array");
  for (const char* f : {"seed", "stream", "step"})
    requireArrayType(params, f, napi_biguint64_array, "BigUint64Array");

  auto temperature = perRow<float, float>(params, "temperature", rows, 1.0f);
  auto topK = perRow<int32_t, int32_t>(params, "topK", rows, 0);
  auto topP = perRow<float, float>(params, "topP", rows, 1.0f);
  auto minP = perRow<float, float>(params, "minP", rows, 0.0f);
  auto rep = perRow<float, float>(params, "repetitionPenalty", rows, 1.0f);
  auto pres = perRow<float, float>(params, "presencePenalty", rows, 0.0f);
  auto freq = perRow<float, float>(params, "frequencyPenalty", rows, 0.0f);
  auto seed = perRow<uint64_t, uint64_t>(params, "seed", rows, 0);
  auto stream = perRow<uint64_t, uint64_t>(params, "stream", rows, 0);
  auto step = perRow<uint64_t, uint64_t>(params, "step", rows, 0);
  if (!params.Has("stream") || params.Get("stream").IsUndefined())
    for (int64_t r = 0; r < rows; ++r) stream[size_t(r)] = uint64_t(r);  // default: the row index

  checkEach(temperature, "temperature", [](float v) { return std::isfinite(v) && v >= 0.0f; }, "finite and >= 0 (0 = greedy)");
  checkEach(topK, "topK", [](int32_t v) { return v >= 0; }, ">= 0 (0 = off)");
  checkEach(topP, "topP", [](float v) { return v > 0.0f && v <= 1.0f; }, "in (0, 1] (1 = off)");
  checkEach(minP, "minP", [](float v) { return v >= 0.0f && v <= 1.0f; }, "in [0, 1] (0 = off)");
  checkEach(rep, "repetitionPenalty", [](float v) { return std::isfinite(v) && v > 0.0f; }, "finite and > 0 (1 = off)");
  checkEach(pres, "presencePenalty", [](float v) { return std::isfinite(v); }, "finite (0 = off)");
  checkEach(freq, "frequencyPenalty", [](float v) { return std::isfinite(v); }, "finite (0 = off)");

  SampleArgs args;
  std::vector<int32_t> offsets, ids, counts;
  Napi::Value offV = params.Get("historyOffsets");
  if (!offV.IsUndefined() && !offV.IsNull()) {
    offsets = int32Array(params, "historyOffsets");
    ids = int32Array(params, "historyIds");
    counts = int32Array(params, "historyCounts");
    if (int64_t(offsets.size()) != rows + 1)
      throw std::invalid_argument("sample: 'historyOffsets' must have rows + 1 = " + std::to_string(rows + 1) + " entries");
    if (ids.size() != counts.size())
      throw std::invalid_argument("sample: 'historyIds' and 'historyCounts' differ in length");
    if (offsets[0] != 0 || size_t(offsets[size_t(rows)]) != ids.size())
      throw std::invalid_argument("sample: 'historyOffsets' must start at 0 and end at the number of history entries");
    for (int64_t r = 0; r < rows; ++r) {
      if (offsets[size_t(r + 1)] < offsets[size_t(r)])
        throw std::invalid_argument("sample: 'historyOffsets' decreases at " + rowName(r));
      for (int32_t i = offsets[size_t(r)]; i < offsets[size_t(r + 1)]; ++i) {
        if (ids[size_t(i)] < 0 || ids[size_t(i)] >= vocab)
          throw std::invalid_argument("sample: penalty history of " + rowName(r) + " has token id " +
                                      std::to_string(ids[size_t(i)]) + " outside the vocabulary of " + std::to_string(vocab));
        if (counts[size_t(i)] < 0)
          throw std::invalid_argument("sample: penalty history of " + rowName(r) + " has a negative count");
      }
    }
    args.historyOffsets = offsets.data(); args.historyIds = ids.data(); args.historyCounts = counts.data();
  }

  std::vector<int32_t> status(size_t(rows), 0);
  args.rows = rows; args.vocab = vocab;
  args.logits = static_cast<const float*>(logits->data());
  args.temperature = temperature.data(); args.topK = topK.data(); args.topP = topP.data(); args.minP = minP.data();
  args.repetitionPenalty = rep.data(); args.presencePenalty = pres.data(); args.frequencyPenalty = freq.data();
  args.seed = seed.data(); args.stream = stream.data(); args.step = step.data();
  args.tokens = static_cast<int32_t*>(tokens->data());
  args.logprobs = static_cast<float*>(logprobs->data());
  args.rawLogprobs = static_cast<float*>(raw->data());
  args.status = status.data();
  if (rows == 0) return env.Undefined();
  GMAI_CALL(env, logits, sample, args);

  for (int64_t r = 0; r < rows; ++r) {
    switch (SampleStatus(status[size_t(r)])) {
      case SampleStatus::Ok: break;
      case SampleStatus::NanLogit:
        throw std::invalid_argument("sample: 'logits' " + rowName(r) + " contains NaN");
      case SampleStatus::PosInfLogit:
        throw std::invalid_argument("sample: 'logits' " + rowName(r) + " contains +Infinity");
      case SampleStatus::AllMasked:
        throw std::invalid_argument("sample: 'logits' " + rowName(r) + " has no finite logit (every token is masked)");
    }
  }
  return env.Undefined();
}

// philox4x32_10(counter Uint32Array(4), key Uint32Array(2)) -> Uint32Array(4): for the
// known-answer test of the generator the sampler draws from.
Napi::Value philox4x32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      info[0].As<Napi::Uint32Array>().ElementLength() != 4)
    throw std::invalid_argument("philox4x32: 'counter' must be a Uint32Array of 4");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
      info[1].As<Napi::Uint32Array>().ElementLength() != 2)
    throw std::invalid_argument("philox4x32: 'key' must be a Uint32Array of 2");
  Napi::Uint32Array c = info[0].As<Napi::Uint32Array>(), k = info[1].As<Napi::Uint32Array>();
  philox::Block out = philox::philox4x32_10({{c[0], c[1], c[2], c[3]}}, k[0], k[1]);
  Napi::Uint32Array result = Napi::Uint32Array::New(env, 4);
  for (int i = 0; i < 4; ++i) result[i] = out.v[i];
  return result;
}

}  // namespace

GMAI_ADDON_MODULE(sampling_api) {
  exports.Set("sample", Napi::Function::New(env, sample, "sample"));
  exports.Set("philox4x32", Napi::Function::New(env, philox4x32, "philox4x32"));
}

}  // namespace gmai
