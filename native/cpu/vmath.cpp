// Row passes: max/NaN/+inf scan, exp-with-sum, SiLU and its backward. See vmath.h.
#include "vmath.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "gmai/context.h"
#include "simd.h"

namespace gmai::cpu::vmath {

namespace {
constexpr float kInf = std::numeric_limits<float>::infinity();
using namespace expPoly;
constexpr float kExpFloor = kFloor;
constexpr int64_t kSumBlock = 512;  // float partial sums per block, then added in double

bool useAvx2() { return cpuFeatures().isa >= CpuIsa::Avx2Fma; }

// ---- portable -----------------------------------------------------------------------------

RowScan scanPortable(const float* x, int64_t n) {
  RowScan s{-kInf, false, false};
  for (int64_t j = 0; j < n; ++j) {
    float v = x[j];
    s.hasNan |= v != v;
    s.hasPosInf |= v == kInf;
    s.max = v > s.max ? v : s.max;
  }
  return s;
}

double expWeightsPortable(const float* l, float lMax, float invT, float* w, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    int64_t e = std::min(n, b + kSumBlock);
    float acc = 0.0f;
    for (int64_t j = b; j < e; ++j) { w[j] = expNonPositive((l[j] - lMax) * invT); acc += w[j]; }
    total += acc;
  }
  return total;
}

// silu(g) = g * sigmoid(g) through e = exp(-|g|) <= 1, so nothing overflows:
// sigmoid(g) = 1 / (1 + e) for g >= 0, e / (1 + e) for g < 0.
void siluMulPortable(const float* g, const float* u, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float e = expNonPositive(-std::fabs(g[i]));
    float sig = (g[i] >= 0.0f ? 1.0f : e) / (1.0f + e);
    out[i] = g[i] * sig * u[i];
  }
}

void siluMulBackwardPortable(const float* dy, const float* g, const float* u, float* dg, float* du, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float e = expNonPositive(-std::fabs(g[i]));
    float sig = (g[i] >= 0.0f ? 1.0f : e) / (1.0f + e);
    dg[i] = dy[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
    du[i] = dy[i] * g[i] * sig;
  }
}

// ---- AVX2 + FMA ---------------------------------------------------------------------------

__attribute__((target("avx2,fma"))) inline __m256 exp256(__m256 x) {
  const __m256 floor = _mm256_set1_ps(kExpFloor);
  __m256 under = _mm256_cmp_ps(x, floor, _CMP_LT_OQ);
  __m256 xc = _mm256_max_ps(x, floor);
  __m256 n = _mm256_floor_ps(_mm256_fmadd_ps(xc, _mm256_set1_ps(kLog2e), _mm256_set1_ps(0.5f)));
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(y, _mm256_castsi256_ps(bits)));
}

__attribute__((target("avx2,fma"))) float hsum(__m256 v) {
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, v);
  float s = 0.0f;
  for (float x : lanes) s += x;
  return s;
}

__attribute__((target("avx2,fma"))) RowScan scanAvx2(const float* x, int64_t n) {
  __m256 m = _mm256_set1_ps(-kInf), bad = _mm256_setzero_ps(), inf = _mm256_setzero_ps();
  const __m256 pinf = _mm256_set1_ps(kInf);
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    __m256 v = _mm256_loadu_ps(x + j);
    bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    inf = _mm256_or_ps(inf, _mm256_cmp_ps(v, pinf, _CMP_EQ_OQ));
    m = _mm256_max_ps(m, v);
  }
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, m);
  RowScan s{-kInf, _mm256_movemask_ps(bad) != 0, _mm256_movemask_ps(inf) != 0};
  for (float v : lanes) s.max = v > s.max ? v : s.max;
  RowScan tail = scanPortable(x + j, n - j);
  s.hasNan |= tail.hasNan; s.hasPosInf |= tail.hasPosInf;
  s.max = tail.max > s.max ? tail.max : s.max;
  return s;
}

__attribute__((target("avx2,fma"))) double expWeightsAvx2(const float* l, float lMax, float invT, float* w, int64_t n) {
  const __m256 vMax = _mm256_set1_ps(lMax), vInvT = _mm256_set1_ps(invT);
  double total = 0.0;
  int64_t j = 0;
  while (j + 8 <= n) {
    int64_t end = std::min(n, j + kSumBlock);
    __m256 acc = _mm256_setzero_ps();
    for (; j + 8 <= end; j += 8) {
      __m256 e = exp256(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(l + j), vMax), vInvT));
      _mm256_storeu_ps(w + j, e);
      acc = _mm256_add_ps(acc, e);
    }
    total += hsum(acc);
  }
  return total + expWeightsPortable(l + j, lMax, invT, w + j, n - j);
}
__attribute__((target("avx2,fma"))) void siluMulAvx2(const float* g, const float* u, float* out, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), signBit = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(g + i);
    __m256 e = exp256(_mm256_or_ps(x, signBit));  // exp(-|x|)
    __m256 num = _mm256_blendv_ps(one, e, x);     // sign of x selects e (x < 0) or 1
    __m256 sig = _mm256_div_ps(num, _mm256_add_ps(one, e));
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(x, sig), _mm256_loadu_ps(u + i)));
  }
  siluMulPortable(g + i, u + i, out + i, n - i);
}
__attribute__((target("avx2,fma"))) void siluMulBackwardAvx2(const float* dy, const float* g, const float* u, float* dg,
                                                              float* du, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), signBit = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_loadu_ps(g + i), d = _mm256_loadu_ps(dy + i);
    __m256 e = exp256(_mm256_or_ps(x, signBit));  // exp(-|x|), as in siluMulAvx2
    __m256 sig = _mm256_div_ps(_mm256_blendv_ps(one, e, x), _mm256_add_ps(one, e));
    __m256 dsilu = _mm256_mul_ps(sig, _mm256_fmadd_ps(x, _mm256_sub_ps(one, sig), one));  // s·(1 + x·(1 − s))
    _mm256_storeu_ps(dg + i, _mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(u + i)), dsilu));
    _mm256_storeu_ps(du + i, _mm256_mul_ps(d, _mm256_mul_ps(x, sig)));
  }
  siluMulBackwardPortable(dy + i, g + i, u + i, dg + i, du + i, n - i);
}
}  // namespace

float expNonPositive(float x) {
  float xc = x < kExpFloor ? kExpFloor : x;
  float n = std::floor(xc * kLog2e + 0.5f);
  float r = xc - n * kLn2Hi - n * kLn2Lo;
  float p = kP0;
  p = p * r + kP1; p = p * r + kP2; p = p * r + kP3; p = p * r + kP4; p = p * r + kP5;
  float y = p * r * r + r + 1.0f;
  int32_t bits = (int32_t(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return x < kExpFloor ? 0.0f : y * scale;
}

RowScan scanRow(const float* x, int64_t n) { return useAvx2() ? scanAvx2(x, n) : scanPortable(x, n); }

double expWeights(const float* l, float lMax, float invT, float* w, int64_t n) {
  return useAvx2() ? expWeightsAvx2(l, lMax, invT, w, n) : expWeightsPortable(l, lMax, invT, w, n);
}

GMAI_MULTIVERSION float dot(const float* a, const float* b, int64_t n) {
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += a[j + l] * b[j + l];
  for (int l = 0; j < n; ++j, ++l) acc[l] += a[j] * b[j];
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0];
}

void siluMul(const float* g, const float* u, float* out, int64_t n) {
  if (useAvx2()) siluMulAvx2(g, u, out, n);
  else siluMulPortable(g, u, out, n);
}

void siluMulBackward(const float* dy, const float* g, const float* u, float* dg, float* du, int64_t n) {
  if (useAvx2()) siluMulBackwardAvx2(dy, g, u, dg, du, n);
  else siluMulBackwardPortable(dy, g, u, dg, du, n);
}

}  // namespace gmai::cpu::vmath
