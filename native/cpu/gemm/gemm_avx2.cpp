// GEMM for AVX2 + FMA (+ F16C): 8-float ymm vectors, 6x16 micro-tile (12 accumulators).
#if defined(__x86_64__)
#include <immintrin.h>

#include "../simd.h"
#include "gemm_isa.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")

namespace gmai::cpu::gemm_avx2 {

constexpr int W = 8;
using V = __m256;
inline V vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, V v) { _mm256_storeu_ps(p, v); }
inline V vset1(float x) { return _mm256_set1_ps(x); }
inline V vfma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
inline V vloadBf16(const uint16_t* p) {  // bf16 is the top half of a float: widen, shift left 16
  __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}
inline V vloadF16(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline void vloadBf16EvenOdd(const uint16_t* p, V& even, V& odd) {
  __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  even = _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
  odd = _mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32(int(0xffff0000u))));
}
inline float vsum(V v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// r[i][j] <- r[j][i] for an 8x8 block: 32-bit then 64-bit interleaves within 128-bit lanes,
// then the lanes are exchanged.
inline void vtranspose(V r[W]) {
  V t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {  // u[i + c], lane L: column 4L + c of rows i..i+3
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

// 16 ymm registers: 12 accumulators + 2 B vectors + 1 broadcast A value.
constexpr int MR = 6, NV = 2;
// Zen / Skylake-class caches: B micro-panel 320x16 floats = 20 KB (L1 32 KB),
// A block 144x320 = 180 KB (L2 512 KB), B block 320x3072 = 3.75 MB (L3). Upper bounds:
// blocked() splits K into equal slices of at most KC.
constexpr int64_t KC = 320, MC = 144, NC = 3072;

#include "gemm_impl.inc"

}  // namespace gmai::cpu::gemm_avx2

#pragma GCC pop_options
#endif
