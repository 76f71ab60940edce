// Helpers shared by the CPU kernels.
#pragma once
#include <cstdint>

#include "gmai/dtype.h"

// GMAI_MULTIVERSION compiles a plain loop for AVX-512, AVX2 and baseline x86-64 and lets the
// loader pick one from CPUID (GCC/Clang function multiversioning). Elsewhere it is a no-op.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(GMAI_NO_MULTIVERSION)
#define GMAI_MULTIVERSION __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define GMAI_MULTIVERSION
#endif

namespace gmai {

// Loads element i of a float32/bfloat16/float16 array as float32.
inline float loadAsFloat(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::BF16: return bf16ToF32(static_cast<const uint16_t*>(p)[i]);
    case DType::F16: return f16ToF32(static_cast<const uint16_t*>(p)[i]);
    default: return static_cast<const float*>(p)[i];
  }
}

}  // namespace gmai
