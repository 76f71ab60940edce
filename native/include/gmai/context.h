// What every kernel receives besides its arguments: the CPU thread pool and, in a CUDA
// build, the stream to launch on. Backends never reach for globals.
#pragma once
#include "gmai/threadpool.h"

namespace gmai {

struct Context {
  ThreadPool* pool = nullptr;  // CPU kernels parallelise over this
  void* cudaStream = nullptr;  // cudaStream_t in CUDA builds; nullptr = default stream
};

// Instruction sets the CPU kernels can use, detected once from CPUID at run time.
enum class CpuIsa : int { Portable = 0, Avx2Fma = 1, Avx512 = 2 };
struct CpuFeatures {
  CpuIsa isa = CpuIsa::Portable;
  bool avx512bf16 = false;  // vdpbf16ps: bf16 dot products
  bool f16c = false;
};
// Detected features, capped by GMAI_CPU_ISA=portable|avx2|avx512 (for tests and benchmarks).
const CpuFeatures& cpuFeatures();
const char* cpuIsaName(CpuIsa isa);

}  // namespace gmai
