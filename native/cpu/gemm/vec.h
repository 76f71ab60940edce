// Portable SIMD vectors (GCC/Clang vector extensions) of W floats. The GEMM kernels are
// written once against these and compiled three times — AVX-512 (W=16), AVX2+FMA (W=8) and
// baseline (W=4) — so the paths that cannot be run on one machine share the code that is
// tested on another. Wrapper functions carry the target attributes; everything below them is
// force-inlined so it is compiled for that target.
#pragma once
#include <cstdint>
#include <cstring>

#define GMAI_INLINE inline __attribute__((always_inline))

namespace gmai::cpu::simd {

template <int W> struct VecTypes;
// GCC ignores vector_size with a template-dependent size, so each width is spelled out.
#define GMAI_VEC_TYPES(W)                                                        \
  template <> struct VecTypes<W> {                                               \
    typedef float F __attribute__((vector_size(W * 4)));                         \
    typedef uint32_t U32 __attribute__((vector_size(W * 4)));                    \
    typedef uint16_t U16 __attribute__((vector_size(W * 2)));                    \
  };
GMAI_VEC_TYPES(4)
GMAI_VEC_TYPES(8)
GMAI_VEC_TYPES(16)
#undef GMAI_VEC_TYPES

template <int W>
struct Vec {
  using F = typename VecTypes<W>::F;
  using U32 = typename VecTypes<W>::U32;
  using U16 = typename VecTypes<W>::U16;

  static GMAI_INLINE F load(const float* p) { F v; std::memcpy(&v, p, sizeof v); return v; }
  static GMAI_INLINE void store(float* p, F v) { std::memcpy(p, &v, sizeof v); }
  static GMAI_INLINE F splat(float x) { return F{} + x; }
  // bfloat16 → float32: widen the 16-bit patterns and shift them into the high half.
  static GMAI_INLINE F loadBf16(const uint16_t* p) {
    U16 h; std::memcpy(&h, p, sizeof h);
    U32 w = __builtin_convertvector(h, U32) << 16;
    F f; std::memcpy(&f, &w, sizeof f); return f;
  }
  static GMAI_INLINE float sum(F v) {
    float s = 0.0f;
    for (int i = 0; i < W; ++i) s += v[i];
    return s;
  }
};

}  // namespace gmai::cpu::simd
