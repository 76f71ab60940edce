// JS-facing tensor functions: create, wrap typed arrays, read back, view, copy, dispose.
#include <algorithm>
#include <cstring>

#include "host_cache.h"
#include "registry.h"
#include "tensor.h"
#include "gmai/ops.h"

#ifdef GMAI_WITH_CUDA
#include "cuda_runtime_glue.h"
#endif

namespace gmai {
namespace {

Device deviceArg(const Napi::Value& v) {
  if (v.IsUndefined() || v.IsNull()) return Device::Cpu;
  std::string s = v.ToString().Utf8Value();
  if (s == "cpu") return Device::Cpu;
  if (s == "cuda") return Device::Cuda;
  throw std::invalid_argument("unknown device '" + s + "' (expected 'cpu' or 'cuda')");
}

int64_t checkedNumel(Napi::Env env, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) {
    if (d != 0 && n > (int64_t(1) << 50) / d) throwError(env, "tensor shape " + shapeString(shape) + " is too large");
    n *= d;
  }
  return n;
}

// empty/zeros(dtype, shape, device?) -> handle with uninitialised / zeroed memory
Napi::Value newTensor(const Napi::CallbackInfo& info, bool zeroed) {
  Napi::Env env = info.Env();
  DType dtype = dtypeArg(info[0], "dtype");
  auto shape = shapeArg(info[1], "shape");
  Device device = deviceArg(info[2]);
  size_t bytes = size_t(checkedNumel(env, shape)) * dtypeSize(dtype);
  auto s = allocateStorage(env, bytes, device);
  if (zeroed && device == Device::Cuda) {
#ifdef GMAI_WITH_CUDA
    cudaZeroOrThrow(s->data, bytes);
#endif
  } else if (zeroed && bytes) {
    std::memset(s->data, 0, bytes);  // zero bytes are 0.0 in every float dtype
  }
  return TensorHandle::wrap(env, s, 0, dtype, shape);
}
Napi::Value empty(const Napi::CallbackInfo& info) { return newTensor(info, false); }
Napi::Value zeros(const Napi::CallbackInfo& info) { return newTensor(info, true); }

// releaseCachedMemory() -> bytes of recycled host blocks handed back to the system
Napi::Value releaseCachedMemory(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(hostCacheTrim()));
}

// fromArray(typedArray, dtype, shape, copy) -> handle. Without copy the tensor aliases the
// JS buffer and keeps it alive (the caller must not transfer or detach it meanwhile).
Napi::Value fromArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throwTypeError(env, "'data' must be a typed array");
  Napi::TypedArray arr = info[0].As<Napi::TypedArray>();
  DType dtype = dtypeArg(info[1], "dtype");
  auto shape = shapeArg(info[2], "shape");
  bool copy = info[3].ToBoolean();
  size_t bytes = size_t(checkedNumel(env, shape)) * dtypeSize(dtype);
  if (arr.ByteLength() != bytes)
    throwError(env, "data has " + std::to_string(arr.ByteLength()) + " bytes but shape " + shapeString(shape) +
                        " of " + dtypeName(dtype) + " needs " + std::to_string(bytes));
  Napi::ArrayBuffer buf = arr.ArrayBuffer();
  char* src = static_cast<char*>(buf.Data()) + arr.ByteOffset();
  if (copy || (reinterpret_cast<uintptr_t>(src) % dtypeSize(dtype)) != 0) {
    auto s = allocateStorage(env, bytes, Device::Cpu);
    if (bytes) std::memcpy(s->data, src, bytes);
    return TensorHandle::wrap(env, s, 0, dtype, shape);
  }
  auto s = std::make_shared<Storage>();
  s->data = src;
  s->bytes = bytes;
  auto* ref = new Napi::Reference<Napi::ArrayBuffer>(Napi::Persistent(buf));
  s->release = [ref] { delete ref; };
  return TensorHandle::wrap(env, s, 0, dtype, shape);
}

// read(handle) -> ArrayBuffer with a copy of the raw bytes (from any device)
Napi::Value read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorHandle* t = tensorArg(info[0], "tensor");
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, t->bytes());
  if (t->device() == Device::Cuda) {
#ifdef GMAI_WITH_CUDA
    cudaCopyOrThrow(out.Data(), t->data(), t->bytes(), CudaCopy::DeviceToHost);
#endif
  } else if (t->bytes()) {
    std::memcpy(out.Data(), t->data(), t->bytes());
  }
  return out;
}

// readFloat32(handle) -> Float32Array converting bf16/f16/f64 on the way (CPU tensors)
Napi::Value readFloat32(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorHandle* t = tensorArg(info[0], "tensor");
  if (t->device() != Device::Cpu) throwError(env, "readFloat32 needs a CPU tensor; copy it to the CPU first");
  requireDtype(t, "tensor", {DType::F32, DType::BF16, DType::F16, DType::F64});
  int64_t n = t->numel();
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(n));
  ConvertArgs a; a.n = n; a.src = t->data(); a.srcType = t->dtype(); a.dst = out.Data(); a.dstType = DType::F32;
  cpu::convert(addonData(env).context(), a);
  return out;
}

// write(handle, typedArray): copies raw bytes into the tensor (same byte size)
Napi::Value write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorHandle* t = tensorArg(info[0], "tensor");
  if (!info[1].IsTypedArray()) throwTypeError(env, "'data' must be a typed array");
  Napi::TypedArray arr = info[1].As<Napi::TypedArray>();
  if (arr.ByteLength() != t->bytes())
    throwError(env, "data has " + std::to_string(arr.ByteLength()) + " bytes, tensor has " + std::to_string(t->bytes()));
  const char* src = static_cast<const char*>(arr.ArrayBuffer().Data()) + arr.ByteOffset();
  if (t->device() == Device::Cuda) {
#ifdef GMAI_WITH_CUDA
    cudaCopyOrThrow(t->data(), src, t->bytes(), CudaCopy::HostToDevice);
#endif
  } else if (t->bytes()) {
    std::memcpy(t->data(), src, t->bytes());
  }
  return env.Undefined();
}

// view(handle, elementOffset, shape, dtype?) -> handle sharing storage (zero copy)
Napi::Value view(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorHandle* t = tensorArg(info[0], "tensor");
  int64_t offset = info[1].As<Napi::Number>().Int64Value();
  auto shape = shapeArg(info[2], "shape");
  DType dtype = info[3].IsUndefined() ? t->dtype() : dtypeArg(info[3], "dtype");
  size_t begin = t->offset() + size_t(offset) * dtypeSize(t->dtype());
  size_t bytes = size_t(checkedNumel(env, shape)) * dtypeSize(dtype);
  if (offset < 0 || begin + bytes > t->offset() + t->bytes())
    throwError(env, "view " + shapeString(shape) + " at element " + std::to_string(offset) +
                        " lies outside the tensor " + shapeString(t->shape()));
  return TensorHandle::wrap(env, t->storage(), begin, dtype, shape);
}

// copy(dst, src): same byte size, any devices
Napi::Value copy(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TensorHandle* dst = tensorArg(info[0], "dst");
  TensorHandle* src = tensorArg(info[1], "src");
  if (dst->bytes() != src->bytes()) throwError(env, "copy: 'dst' and 'src' differ in byte size");
  if (dst->device() == Device::Cpu && src->device() == Device::Cpu) {
    const size_t bytes = dst->bytes();
    char* d = static_cast<char*>(dst->data());
    const char* sp = static_cast<const char*>(src->data());
    const bool overlap = d < sp + bytes && sp < d + bytes;
    if (bytes >= (size_t(8) << 20) && !overlap) {
      // Large copies (weights at load): the pool's threads take a share each, which also
      // spreads the page faults of freshly allocated memory.
      addonData(env).pool->parallelFor(int64_t(bytes >> 20) + 1, 1, [&](int64_t b, int64_t e) {
        const size_t from = std::min(bytes, size_t(b) << 20), to = std::min(bytes, size_t(e) << 20);
        std::memcpy(d + from, sp + from, to - from);
      });
    } else if (bytes) {
      std::memmove(d, sp, bytes);
    }
  } else {
#ifdef GMAI_WITH_CUDA
    CudaCopy kind = src->device() == Device::Cpu ? CudaCopy::HostToDevice
                  : dst->device() == Device::Cpu ? CudaCopy::DeviceToHost : CudaCopy::DeviceToDevice;
    cudaCopyOrThrow(dst->data(), src->data(), dst->bytes(), kind);
#endif
  }
  return env.Undefined();
}

Napi::Value dispose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info[0].IsObject() && info[0].As<Napi::Object>().InstanceOf(addonData(env).tensorClass.Value()))
    TensorHandle::Unwrap(info[0].As<Napi::Object>())->release(env);
  return env.Undefined();
}

Napi::Value isAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = info[0].As<Napi::Object>();
  return Napi::Boolean::New(env, TensorHandle::Unwrap(o)->alive());
}

Napi::Value deviceOf(const Napi::CallbackInfo& info) {
  TensorHandle* t = tensorArg(info[0], "tensor");
  return Napi::String::New(info.Env(), t->device() == Device::Cuda ? "cuda" : "cpu");
}

}  // namespace

GMAI_ADDON_MODULE(tensor_api) {
  exports.Set("empty", Napi::Function::New(env, empty, "empty"));
  exports.Set("zeros", Napi::Function::New(env, zeros, "zeros"));
  exports.Set("releaseCachedMemory", Napi::Function::New(env, releaseCachedMemory, "releaseCachedMemory"));
  exports.Set("fromArray", Napi::Function::New(env, fromArray, "fromArray"));
  exports.Set("read", Napi::Function::New(env, read, "read"));
  exports.Set("readFloat32", Napi::Function::New(env, readFloat32, "readFloat32"));
  exports.Set("write", Napi::Function::New(env, write, "write"));
  exports.Set("view", Napi::Function::New(env, view, "view"));
  exports.Set("copy", Napi::Function::New(env, copy, "copy"));
  exports.Set("dispose", Napi::Function::New(env, dispose, "dispose"));
  exports.Set("isAlive", Napi::Function::New(env, isAlive, "isAlive"));
  exports.Set("deviceOf", Napi::Function::New(env, deviceOf, "deviceOf"));
}

}  // namespace gmai
