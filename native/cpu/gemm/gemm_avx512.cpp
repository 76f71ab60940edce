// GEMM for AVX-512 (F/BW/VL/DQ): 16-float zmm vectors, 14x32 micro-tile (28 accumulators).
// Same algorithm and code as the AVX2 unit (gemm_impl.inc); only the primitives differ.
// NOT yet run on AVX-512 hardware (the development machine has AVX2 only): see docs/gemm.md.
#if defined(__x86_64__)
#include <immintrin.h>

#include "../simd.h"
#include "gemm_isa.h"

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
// GCC 12 false positive on the _mm512_undefined_* idiom inside its own intrinsics headers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace gmai::cpu::gemm_avx512 {

constexpr int W = 16;
using V = __m512;
inline V vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm512_storeu_ps(p, v); }
inline V vset1(float x) { return _mm512_set1_ps(x); }
inline V vfma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
inline V vloadBf16(const uint16_t* p) {  // bf16 is the top half of a float: widen, shift left 16
  __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}
inline V vloadF16(const uint16_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
inline void vloadBf16EvenOdd(const uint16_t* p, V& even, V& odd) {
  __m512i x = _mm512_loadu_si512(p);
  even = _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
  odd = _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(int(0xffff0000u))));
}
inline float vsum(V v) { return _mm512_reduce_add_ps(v); }

// 32 zmm registers: 28 accumulators + 2 B vectors + 1 broadcast A value.
constexpr int MR = 14, NV = 2;
// B micro-panel 192x32 floats = 24 KB (L1 32-48 KB), A block 168x192 = 126 KB (L2 >= 1 MB),
// B block 192x4096 = 3 MB.
constexpr int64_t KC = 192, MC = 168, NC = 4096;

#include "gemm_impl.inc"

}  // namespace gmai::cpu::gemm_avx512

#pragma GCC pop_options
#endif
