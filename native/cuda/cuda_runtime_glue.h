// The few CUDA runtime calls the addon glue needs (memory, copies, device list), declared
// without CUDA headers so the .cc files compile with the host compiler.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace gmai {

enum class CudaCopy { HostToDevice, DeviceToHost, DeviceToDevice };

void* cudaAllocOrThrow(size_t bytes);
void cudaFreeQuiet(void* p);
void cudaCopyOrThrow(void* dst, const void* src, size_t bytes, CudaCopy kind);
void cudaZeroOrThrow(void* p, size_t bytes);

struct CudaDeviceInfo {
  std::string name;
  size_t memoryBytes = 0;
  int major = 0, minor = 0;
};
// Devices visible to this process; empty when there is no driver or no GPU (never throws).
std::vector<CudaDeviceInfo> cudaDeviceList();

}  // namespace gmai
