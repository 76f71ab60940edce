// Optimiser kernels (contracts in gmai/ops/optim.h): AdamW over a list of tensors and the
// float64 sum of squares behind the global gradient norm. The pool's threads take whole chunks.
#include <cmath>
#include <vector>

#include "gmai/ops.h"
#include "simd.h"

namespace gmai::cpu {

namespace {

GMAI_MULTIVERSION void adamwRange(const AdamwArgs& a, const AdamwTensor& t, int64_t begin, int64_t end) {
  float* __restrict p = t.param;
  const float* __restrict g = t.grad;
  float* __restrict m = t.expAvg;
  float* __restrict v = t.expAvgSq;
  const float beta1 = a.beta1, beta2 = a.beta2, oneMinusBeta1 = a.oneMinusBeta1, oneMinusBeta2 = a.oneMinusBeta2;
  const float eps = a.eps, stepSize = a.stepSize, bc2Sqrt = a.biasCorrection2Sqrt, gradScale = a.gradScale;
  const float decay = t.decayFactor;
  for (int64_t i = begin; i < end; ++i) {
    const float gi = g[i] * gradScale;
    const float mi = beta1 * m[i] + oneMinusBeta1 * gi;
    const float vi = beta2 * v[i] + oneMinusBeta2 * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    const float denom = std::sqrt(vi) / bc2Sqrt + eps;
    p[i] = p[i] * decay - stepSize * (mi / denom);
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
