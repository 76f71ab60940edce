// GEMM in plain C++ (GCC/Clang vector extensions, 4 floats): builds for any target, e.g.
// baseline x86-64 (SSE2) or arm64 (NEON). Same algorithm and code as the SIMD units.
#include <cstring>

#include "../simd.h"
#include "gemm_isa.h"

namespace gmai::cpu::gemm_portable {

constexpr int W = 4;
typedef float V __attribute__((vector_size(16)));
inline V vload(const float* p) { V v; std::memcpy(&v, p, sizeof v); return v; }
inline void vstore(float* p, V v) { std::memcpy(p, &v, sizeof v); }
inline V vset1(float x) { return V{x, x, x, x}; }
inline V vfma(V a, V b, V c) { return a * b + c; }
inline V vloadBf16(const uint16_t* p) { return V{bf16ToF32(p[0]), bf16ToF32(p[1]), bf16ToF32(p[2]), bf16ToF32(p[3])}; }
inline V vloadF16(const uint16_t* p) { return V{f16ToF32(p[0]), f16ToF32(p[1]), f16ToF32(p[2]), f16ToF32(p[3])}; }
inline void vloadBf16EvenOdd(const uint16_t* p, V& even, V& odd) {
  even = V{bf16ToF32(p[0]), bf16ToF32(p[2]), bf16ToF32(p[4]), bf16ToF32(p[6])};
  odd = V{bf16ToF32(p[1]), bf16ToF32(p[3]), bf16ToF32(p[5]), bf16ToF32(p[7])};
}
inline float vsum(V v) { return (v[0] + v[1]) + (v[2] + v[3]); }
inline void vtranspose(V r[W]) {
  V t[W];
  for (int i = 0; i < W; ++i) t[i] = V{r[0][i], r[1][i], r[2][i], r[3][i]};
  for (int i = 0; i < W; ++i) r[i] = t[i];
}

// 16 xmm registers (SSE2) / 32 (NEON): 4x8 tile = 8 accumulators.
constexpr int MR = 4, NV = 2;
constexpr int64_t KC = 256, MC = 128, NC = 2048;

#include "gemm_impl.inc"

}  // namespace gmai::cpu::gemm_portable
