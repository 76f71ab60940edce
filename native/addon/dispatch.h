// Backend dispatch for op bindings: run the CPU or the CUDA implementation of an op according
// to the device of its tensors. Bindings check devices match before calling.
#pragma once
#include <string>

#include "registry.h"
#include "tensor.h"

namespace gmai {

template <typename Args>
void dispatchOp(Napi::Env env, const char* opName, const TensorHandle* on,
                void (*cpuFn)(const Context&, const Args&),
                void (*cudaFn)(const Context&, const Args&), const Args& args) {
  Context ctx = addonData(env).context();
  if (on->device() == Device::Cuda) {
    if (!cudaFn) throw std::invalid_argument(std::string(opName) + " has no CUDA kernel yet; copy the tensors to the CPU");
    cudaFn(ctx, args);
    return;
  }
  cpuFn(ctx, args);
}

}  // namespace gmai

// GMAI_CALL(env, tensor, op, args): cpu::op or cuda::op (CUDA builds) by tensor's device.
#ifdef GMAI_WITH_CUDA
#define GMAI_CALL(env, t, op, args) ::gmai::dispatchOp(env, #op, t, &::gmai::cpu::op, &::gmai::cuda::op, args)
#else
#define GMAI_CALL(env, t, op, args) ::gmai::dispatchOp<decltype(args)>(env, #op, t, &::gmai::cpu::op, nullptr, args)
#endif
// GMAI_CALL_CPU_ONLY: for ops whose CUDA kernel is not written yet (a clear error on CUDA tensors).
#define GMAI_CALL_CPU_ONLY(env, t, op, args) ::gmai::dispatchOp<decltype(args)>(env, #op, t, &::gmai::cpu::op, nullptr, args)
