// Helpers shared by the CUDA kernels.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "gmai/ops.h"

namespace gmai::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
// After a launch: report configuration errors at once (execution errors surface at the next sync).
inline void checkLaunch(const char* kernel) { check(cudaGetLastError(), kernel); }

inline cudaStream_t streamOf(const Context& ctx) { return static_cast<cudaStream_t>(ctx.cudaStream); }

inline unsigned blocksFor(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

// Scratch device memory for one op call, stream-ordered (cudaMallocAsync / cudaFreeAsync): the
// free is queued behind the kernels that use it, so the host never waits for them.
class DeviceBuffer {
 public:
  DeviceBuffer(size_t bytes, cudaStream_t stream) : stream_(stream) {
    check(cudaMallocAsync(&data_, bytes ? bytes : 1, stream), "cudaMallocAsync");
  }
  ~DeviceBuffer() { cudaFreeAsync(data_, stream_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  char* data() const { return static_cast<char*>(data_); }

 private:
  void* data_ = nullptr;
  cudaStream_t stream_;
};

// Host arrays (argument structs point to host memory for small index arrays) packed into
// one buffer, so an op needs one allocation and one copy to the device.
class HostPack {
 public:
  // Appends n elements, 16-byte aligned; returns their byte offset in the pack.
  template <typename T> size_t add(const T* src, size_t n) {
    size_t at = (bytes_.size() + 15) & ~size_t(15);
    bytes_.resize(at + n * sizeof(T));
    if (n) std::memcpy(bytes_.data() + at, src, n * sizeof(T));
    return at;
  }
  size_t size() const { return bytes_.size(); }
  // A device copy of the pack (the copy is queued on the stream; the pack may go at once).
  void upload(const DeviceBuffer& dst, cudaStream_t stream) const {
    if (!bytes_.empty())
      check(cudaMemcpyAsync(dst.data(), bytes_.data(), bytes_.size(), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync");
  }

 private:
  std::vector<char> bytes_;
};

// Loads element i of a float32/bfloat16/float16 array as float.
__device__ __forceinline__ float loadAsFloat(const void* p, DType t, int64_t i) {
  if (t == DType::BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  if (t == DType::F16) return __half2float(static_cast<const __half*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

}  // namespace gmai::cuda

namespace gmai::cuda {

// Block-wide sum and max over Threads threads (a multiple of 32); `shared` holds Threads/32
// floats. Every thread gets the result.
template <int Threads>
__device__ __forceinline__ float blockReduceSum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = v;
  __syncthreads();
  float total = 0.0f;
  for (int w = 0; w < Threads / 32; ++w) total += shared[w];
  __syncthreads();
  return total;
}
template <int Threads>
__device__ __forceinline__ float blockReduceMax(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
  if ((threadIdx.x & 31) == 0) shared[threadIdx.x >> 5] = v;
  __syncthreads();
  float m = -INFINITY;
  for (int w = 0; w < Threads / 32; ++w) m = fmaxf(m, shared[w]);
  __syncthreads();
  return m;
}

}  // namespace gmai::cuda
