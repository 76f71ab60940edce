// Memory, copies and device enumeration for the addon glue.
#include "common.cuh"
#include "cuda_runtime_glue.h"

namespace gmai {

void* cudaAllocOrThrow(size_t bytes) {
  void* p = nullptr;
  cuda::check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  return p;
}

void cudaFreeQuiet(void* p) { cudaFree(p); }

void cudaCopyOrThrow(void* dst, const void* src, size_t bytes, CudaCopy kind) {
  cudaMemcpyKind k = kind == CudaCopy::HostToDevice ? cudaMemcpyHostToDevice
                   : kind == CudaCopy::DeviceToHost ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
  if (bytes) cuda::check(cudaMemcpy(dst, src, bytes, k), "cudaMemcpy");
}

void cudaZeroOrThrow(void* p, size_t bytes) {
  if (bytes) cuda::check(cudaMemset(p, 0, bytes), "cudaMemset");
}

std::vector<CudaDeviceInfo> cudaDeviceList() {
  std::vector<CudaDeviceInfo> out;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return out; }
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p;
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    out.push_back({p.name, p.totalGlobalMem, p.major, p.minor});
  }
  return out;
}

}  // namespace gmai
