// Optimiser kernels (contracts in gmai/ops/optim.h): AdamW over a list of tensors and the
// float64 sum of squares behind the global gradient norm. The pool's threads take whole chunks.
#include <cmath>
#include <vector>

#include "gmai/ops.h"
#include "simd.h"

namespace gmai::cpu {

namespace {

// No contraction into FMAs beyond the explicit std::fma: torch rounds these products apart.
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
GMAI_MULTIVERSION void adamwRange(const AdamwArgs& a, const AdamwTensor& t, int64_t begin, int64_t end) {
  float* __restrict p = t.param;
  const float* __restrict g = t.grad;
  float* __restrict m = t.expAvg;
  float* __restrict v = t.expAvgSq;
  const float beta1 = a.beta1, beta2 = a.beta2, oneMinusBeta1 = a.oneMinusBeta1, oneMinusBeta2 = a.oneMinusBeta2;
  const float eps = a.eps, stepSize = a.stepSize, bc2Sqrt = a.biasCorrection2Sqrt, gradScale = a.gradScale;
  const float decay = t.decayFactor;
  const float minusStepSize = -stepSize;
  // The order of operations and the fused multiply-adds of torch's (vectorised) CPU kernels for
  // torch.optim.AdamW, so that results match torch 1.13's bit for bit (test/optim-ops.test.js).
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i] * gradScale;
    const float mi = std::fma(gi, oneMinusBeta1, beta1 * m[i]);   // exp_avg.mul_(β1).add_(g, alpha=1-β1)
    const float vi = std::fma(oneMinusBeta2 * gi, gi, beta2 * v[i]);  // exp_avg_sq.mul_(β2).addcmul_(g, g, value=1-β2)
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2Sqrt + eps;              // (v.sqrt() / √bc2).add_(eps)
    const float pi = p[i] * decay;                                   // p.mul_(1 - lr·wd)
    p[i] = pi + minusStepSize * mi / denom;                          // p.addcdiv_(m, denom, value=-step_size)
  }
  if (!t.modelWeight) return;
  if (t.modelType == DType::BF16) {
    uint16_t* __restrict w = static_cast<uint16_t*>(t.modelWeight);
    for (int64_t i = begin; i < end; ++i) w[i] = f32ToBf16(p[i]);
  } else {
    float* __restrict w = static_cast<float*>(t.modelWeight);
    if (w != p) for (int64_t i = begin; i < end; ++i) w[i] = p[i];
  }
}
#pragma GCC pop_options

// Σ x² of x[0, n) in float64, in 8 interleaved partial sums (one vector register) added
// pairwise at the end.
GMAI_MULTIVERSION double sumSquaresF64(const float* x, int64_t n) {
  constexpr int kLanes = 8;
  double acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) { const double d = x[j + l]; acc[l] += d * d; }
  for (int l = 0; j < n; ++j, ++l) { const double d = x[j]; acc[l] += d * d; }
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0];
}

}  // namespace

void adamw(const Context& ctx, const AdamwArgs& a) {
  ctx.pool->parallelFor(a.chunkCount, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const OptimChunk& ch = a.chunks[c];
      adamwRange(a, a.tensors[ch.tensor], ch.begin, ch.end);
    }
  });
}

void sumOfSquares(const Context& ctx, const SumOfSquaresArgs& a) {
  std::vector<double> partial(size_t(a.chunkCount));
  ctx.pool->parallelFor(a.chunkCount, 1, [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      const OptimChunk& ch = a.chunks[c];
      partial[size_t(c)] = sumSquaresF64(a.tensors[ch.tensor] + ch.begin, ch.end - ch.begin);
    }
  });
  double total = 0.0;
  for (double s : partial) total += s;
  *a.result = total;
}

}  // namespace gmai::cpu
