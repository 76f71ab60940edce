// Helpers shared by the CUDA kernels.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "gmai/ops.h"

namespace gmai::cuda {

inline void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(e));
}
// After a launch: report configuration errors at once (execution errors surface at the next sync).
inline void checkLaunch(const char* kernel) { check(cudaGetLastError(), kernel); }

inline cudaStream_t streamOf(const Context& ctx) { return static_cast<cudaStream_t>(ctx.cudaStream); }

inline unsigned blocksFor(int64_t n, int threads) { return unsigned((n + threads - 1) / threads); }

// Loads element i of a float32/bfloat16/float16 array as float.
__device__ __forceinline__ float loadAsFloat(const void* p, DType t, int64_t i) {
  if (t == DType::BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  if (t == DType::F16) return __half2float(static_cast<const __half*>(p)[i]);
  return static_cast<const float*>(p)[i];
}

}  // namespace gmai::cuda
