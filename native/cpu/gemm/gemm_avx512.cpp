// GEMM for AVX-512 (F/BW/VL/DQ): 16-float zmm vectors, 14x32 micro-tile (28 accumulators).
// Same algorithm and code as the AVX2 unit (gemm_impl.inc); only the primitives differ.
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
// r[i][j] <- r[j][i] for a 16x16 block: 32-bit then 64-bit interleaves within 128-bit lanes,
// then two rounds of 128-bit lane shuffles.
inline void vtranspose(V r[W]) {
  V t[16], u[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  auto lo = [](V a, V b) { return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
  auto hi = [](V a, V b) { return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
  for (int i = 0; i < 16; i += 4) {  // u[i + c], lane L: column 4L + c of rows i..i+3
    u[i] = lo(t[i], t[i + 2]);
    u[i + 1] = hi(t[i], t[i + 2]);
    u[i + 2] = lo(t[i + 1], t[i + 3]);
    u[i + 3] = hi(t[i + 1], t[i + 3]);
  }
  for (int c = 0; c < 4; ++c) {
    V x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88), x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
    V y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88), y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
    r[c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
    r[4 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
    r[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
  }
}

// 32 zmm registers: 28 accumulators + 2 B vectors + 1 broadcast A value.
constexpr int MR = 14, NV = 2;
// Tuned on Zen 4 (2 cores, 1 MB L2, 32 MB L3; bench/RESULTS.md): a deep K slice matters most,
// because every slice re-reads and re-writes the C tile (14 rows far apart in memory). The
// B micro-panel (1024x32 floats, 128 KB) then streams from L2 rather than sitting in L1,
// which costs less; the A block (56x1024, 224 KB) stays in L2, the B block (4 MB) in L3.
constexpr int64_t KC = 1024, MC = 56, NC = 1024;

#include "gemm_impl.inc"

}  // namespace gmai::cpu::gemm_avx512

#pragma GCC pop_options
#endif
