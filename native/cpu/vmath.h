// Vector math over float rows (exp, softmax weights, SiLU) shared by the sampler, attention and
// the MLP, with an AVX2+FMA path chosen at run time and a portable one. The two paths round
// differently (FMA, summation order), so results (and sampled tokens) reproduce on machines
// of the same ISA level, not across levels.
#pragma once
#include <cstdint>

#include "exp_poly.h"

namespace gmai::cpu::vmath {

// exp(x) for x <= 0 (Cephes-style, about 2 ulp); exactly 0 below -87.3, so -inf gives 0.
float expNonPositive(float x);

struct RowScan { float max; bool hasNan; bool hasPosInf; };
RowScan scanRow(const float* x, int64_t n);

// w[j] = exp((l[j] - lMax) * invT) for j < n; returns the sum of w in double precision.
// (w may be l: computed in place.)
double expWeights(const float* l, float lMax, float invT, float* w, int64_t n);

// Σ a[j]·b[j] for j < n, in 16 interleaved partial sums (a single running sum is a chain of
// dependent adds, four cycles each).
float dot(const float* a, const float* b, int64_t n);

// out[i] = silu(g[i]) * u[i] = g[i] * sigmoid(g[i]) * u[i], for i < n.
void siluMul(const float* g, const float* u, float* out, int64_t n);

// Backward of siluMul for upstream gradient dy, with s = sigmoid(g[i]):
// dg[i] = dy[i]·u[i]·s·(1 + g[i]·(1 − s)), du[i] = dy[i]·g[i]·s, for i < n.
void siluMulBackward(const float* dy, const float* g, const float* u, float* dg, float* du, int64_t n);

}  // namespace gmai::cpu::vmath
