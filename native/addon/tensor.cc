#include "tensor.h"

#include <cstdlib>
#include <cstring>
#include <sstream>

#include "host_cache.h"
#include "registry.h"

#ifdef __linux__
#include <sys/mman.h>
#endif

#ifdef GMAI_WITH_CUDA
#include "cuda_runtime_glue.h"
#endif

namespace gmai {

[[noreturn]] void throwError(Napi::Env env, const std::string& message) {
  throw Napi::Error::New(env, message);
}
[[noreturn]] void throwTypeError(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

std::string shapeString(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "[";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << "]";
  return s.str();
}

Napi::Function TensorHandle::defineClass(Napi::Env env) {
  return DefineClass(env, "TensorHandle", {});
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {}

TensorHandle::~TensorHandle() {
  // Finalizer path: no JS calls allowed here, so external-memory accounting is dropped with
  // the handle (V8 forgets it with the object anyway).
  storage_.reset();
}

int64_t TensorHandle::numel() const {
  int64_t n = 1;
  for (auto d : shape_) n *= d;
  return n;
}

void TensorHandle::release(Napi::Env env) {
  if (accounted_) {
    Napi::MemoryManagement::AdjustExternalMemory(env, -int64_t(accounted_));
    accounted_ = 0;
  }
  storage_.reset();
}

Napi::Object TensorHandle::wrap(Napi::Env env, std::shared_ptr<Storage> storage, size_t offset,
                                DType dtype, const std::vector<int64_t>& shape) {
  Napi::Object obj = addonData(env).tensorClass.New({});
  TensorHandle* t = Unwrap(obj);
  t->storage_ = std::move(storage);
  t->offset_ = offset;
  t->dtype_ = dtype;
  t->shape_ = shape;
  // Tell V8 about host memory this handle keeps alive so GC pressure reflects it.
  if (t->storage_->device == Device::Cpu && offset == 0 && t->storage_.use_count() == 1) {
    t->accounted_ = t->storage_->bytes;
    Napi::MemoryManagement::AdjustExternalMemory(env, int64_t(t->accounted_));
  }
  return obj;
}

TensorHandle* tensorArg(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsObject()) throwTypeError(env, std::string("argument '") + name + "' must be a tensor");
  Napi::Object o = v.As<Napi::Object>();
  if (!o.InstanceOf(addonData(env).tensorClass.Value()))
    throwTypeError(env, std::string("argument '") + name + "' must be a tensor handle");
  TensorHandle* t = TensorHandle::Unwrap(o);
  if (!t->alive()) throwError(env, std::string("tensor '") + name + "' was used after dispose()");
  return t;
}

std::vector<int64_t> shapeArg(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsArray()) throwTypeError(env, std::string("'") + name + "' must be an array of dimensions");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > kMaxDims)
    throwError(env, std::string("'") + name + "' has " + std::to_string(a.Length()) +
                        " dimensions; at most " + std::to_string(kMaxDims) + " are supported");
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    if (!d.IsNumber()) throwTypeError(env, std::string("'") + name + "' dimension " + std::to_string(i) + " is not a number");
    double x = d.As<Napi::Number>().DoubleValue();
    if (!(x >= 0) || x != double(int64_t(x)) || x > 9.0e15)
      throwError(env, std::string("'") + name + "' dimension " + std::to_string(i) + " must be a non-negative integer");
    shape.push_back(int64_t(x));
  }
  return shape;
}

DType dtypeArg(const Napi::Value& v, const char* name) {
  Napi::Env env = v.Env();
  if (!v.IsNumber()) throwTypeError(env, std::string("'") + name + "' must be a dtype code");
  int32_t code = v.As<Napi::Number>().Int32Value();
  if (code < 0 || code > int32_t(DType::BOOL)) throwError(env, std::string("'") + name + "' is not a known dtype");
  return DType(code);
}

void requireDtype(const TensorHandle* t, const char* name, std::initializer_list<DType> allowed) {
  for (DType d : allowed) if (t->dtype() == d) return;
  std::string list;
  for (DType d : allowed) list += (list.empty() ? "" : " or ") + std::string(dtypeName(d));
  throw std::invalid_argument(std::string("tensor '") + name + "' has dtype " + dtypeName(t->dtype()) + "; expected " + list);
}

void requireShape(const TensorHandle* t, const char* name, const std::vector<int64_t>& shape) {
  if (t->shape() != shape)
    throw std::invalid_argument(std::string("tensor '") + name + "' has shape " + shapeString(t->shape()) +
                                "; expected " + shapeString(shape));
}

void requireSameDevice(std::initializer_list<std::pair<const TensorHandle*, const char*>> ts) {
  const TensorHandle* first = nullptr; const char* firstName = nullptr;
  for (auto& [t, name] : ts) {
    if (!t) continue;
    if (!first) { first = t; firstName = name; continue; }
    if (t->device() != first->device())
      throw std::invalid_argument(std::string("tensors '") + firstName + "' and '" + name + "' are on different devices");
  }
}

std::vector<char> hostBytes(const TensorHandle* t) {
  std::vector<char> out(t->bytes());
  if (out.empty()) return out;
  if (t->device() == Device::Cuda) {
#ifdef GMAI_WITH_CUDA
    cudaCopyOrThrow(out.data(), t->data(), out.size(), CudaCopy::DeviceToHost);
#endif
  } else {
    std::memcpy(out.data(), t->data(), out.size());
  }
  return out;
}

constexpr size_t kHugePageBytes = size_t(2) << 20;

std::shared_ptr<Storage> allocateStorage(Napi::Env env, size_t bytes, Device device) {
  auto s = std::make_shared<Storage>();
  s->bytes = bytes;
  s->device = device;
  if (device == Device::Cuda) {
#ifdef GMAI_WITH_CUDA
    s->data = cudaAllocOrThrow(bytes);
    s->release = [p = s->data] { cudaFreeQuiet(p); };
    return s;
#else
    throwError(env, "this build of gmai-vl-r1 has no CUDA backend (npm run build:cuda builds one)");
#endif
  }
  // malloc + manual 64-byte alignment: glibc's aligned_alloc leaves holes that the next
  // equally sized aligned request cannot reuse, so churn of large tensors grew the heap. Large
  // blocks are recycled by size (host_cache.h) instead of going back to the kernel.
  const size_t block = bytes + 64;
  void* raw = hostAcquire(block);
  if (!raw) throwError(env, "out of memory allocating " + std::to_string(bytes) + " bytes");
  s->data = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(raw) + 64) & ~uintptr_t(63));
  s->release = [raw, block] { hostRelease(raw, block); };
#ifdef __linux__
  // Large tensors (weights, big activations): ask for 2 MB pages over the whole 2 MB-aligned
  // part, for fewer TLB misses when kernels walk them in blocks. Advice only; malloc keeps
  // reusing freed memory, so churning activations do not fault fresh pages in each time.
  const uintptr_t begin = reinterpret_cast<uintptr_t>(s->data), end = begin + bytes;
  const uintptr_t hugeBegin = (begin + kHugePageBytes - 1) & ~uintptr_t(kHugePageBytes - 1), hugeEnd = end & ~uintptr_t(kHugePageBytes - 1);
  if (hugeEnd > hugeBegin) ::madvise(reinterpret_cast<void*>(hugeBegin), hugeEnd - hugeBegin, MADV_HUGEPAGE);
#endif
  return s;
}

}  // namespace gmai
