// Vector math over float rows (exp, softmax weights, SiLU) shared by the sampler, attention and
// the MLP, with an AVX2+FMA path chosen at run time and a portable one. The two paths round
// differently (FMA, summation order), so results (and sampled tokens) reproduce on machines
// of the same ISA level, not across levels.
#pragma once
#include <cstdint>

namespace gmai::cpu::vmath {

// Coefficients of expNonPositive (Cephes expf): x = n·ln2 + r with ln2 split in two,
// exp(r) ≈ 1 + r + r²·P(r). Every implementation (scalar, AVX2, attention's lanes, CUDA) uses
// these, so they all round alike.
namespace expPoly {
inline constexpr float kFloor = -87.3f;  // below this exp underflows float: return exactly 0
inline constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                       kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
}  // namespace expPoly

// exp(x) for x <= 0 (Cephes-style, about 2 ulp); exactly 0 below -87.3, so -inf gives 0.
float expNonPositive(float x);

struct RowScan { float max; bool hasNan; bool hasPosInf; };
RowScan scanRow(const float* x, int64_t n);

// w[j] = exp((l[j] - lMax) * invT) for j < n; returns the sum of w in double precision.
// (w may be l: computed in place.)
double expWeights(const float* l, float lMax, float invT, float* w, int64_t n);

// out[i] = silu(g[i]) * u[i] = g[i] * sigmoid(g[i]) * u[i], for i < n.
void siluMul(const float* g, const float* u, float* out, int64_t n);

}  // namespace gmai::cpu::vmath
