// Native tensors as JS sees them: a handle object (TensorHandle) that owns a reference to a
// Storage. Memory is released by dispose() from JS; the finalizer is only a safety net.
#pragma once
#include <napi.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gmai/dtype.h"

namespace gmai {

enum class Device : int32_t { Cpu = 0, Cuda = 1 };

// A block of memory and how to give it back (free, munmap, unref a JS buffer, cudaFree).
struct Storage {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::Cpu;
  std::function<void()> release;
  ~Storage() { if (release) release(); }
};

constexpr int kMaxDims = 6;

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function defineClass(Napi::Env env);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  ~TensorHandle() override;

  // Creates a JS handle around storage (+ offset) with the given type and shape.
  static Napi::Object wrap(Napi::Env env, std::shared_ptr<Storage> storage, size_t offset,
                           DType dtype, const std::vector<int64_t>& shape);

  bool alive() const { return storage_ != nullptr; }
  void* data() const { return static_cast<char*>(storage_->data) + offset_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device : Device::Cpu; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  size_t bytes() const { return size_t(numel()) * dtypeSize(dtype_); }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  size_t offset() const { return offset_; }
  void release(Napi::Env env);

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;
  DType dtype_ = DType::F32;
  std::vector<int64_t> shape_;
  size_t accounted_ = 0;  // bytes reported to V8 as external memory
};

// Argument helpers: every error names the argument it is about.
TensorHandle* tensorArg(const Napi::Value& v, const char* name);
std::vector<int64_t> shapeArg(const Napi::Value& v, const char* name);
DType dtypeArg(const Napi::Value& v, const char* name);
std::string shapeString(const std::vector<int64_t>& shape);
void requireDtype(const TensorHandle* t, const char* name, std::initializer_list<DType> allowed);
void requireShape(const TensorHandle* t, const char* name, const std::vector<int64_t>& shape);
void requireSameDevice(std::initializer_list<std::pair<const TensorHandle*, const char*>> ts);

// A host copy of a tensor's bytes (from any device), for small tensors the binding must inspect.
std::vector<char> hostBytes(const TensorHandle* t);

// Allocates host or device memory for `bytes` bytes (64-byte aligned on the host).
std::shared_ptr<Storage> allocateStorage(Napi::Env env, size_t bytes, Device device);

[[noreturn]] void throwError(Napi::Env env, const std::string& message);
[[noreturn]] void throwTypeError(Napi::Env env, const std::string& message);

}  // namespace gmai
