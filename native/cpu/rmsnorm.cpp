// RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w, one row at a time, float32 accumulation.
#include <cmath>

#include "gmai/ops.h"
#include "simd.h"

namespace gmai::cpu {

namespace {
// Σ x² in 16 interleaved partial sums (the compiler keeps them in one vector; a single running
// sum is a serial chain it may not reorder), added pairwise at the end.
GMAI_MULTIVERSION float sumSquares(const float* x, int64_t n) {
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes)
    for (int l = 0; l < kLanes; ++l) acc[l] += x[j + l] * x[j + l];
  for (int l = 0; j < n; ++j, ++l) acc[l] += x[j] * x[j];
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  return acc[0];
}

GMAI_MULTIVERSION void rmsnormRow(const float* x, const void* w, DType wt, float* y, int64_t dim,
                                  float eps, float* invRmsOut) {
  const float ss = sumSquares(x, dim);
  float inv = 1.0f / std::sqrt(ss / float(dim) + eps);
  if (invRmsOut) *invRmsOut = inv;
  if (!w) { for (int64_t j = 0; j < dim; ++j) y[j] = x[j] * inv; return; }
  if (wt == DType::F32) {
    const float* wf = static_cast<const float*>(w);
    for (int64_t j = 0; j < dim; ++j) y[j] = x[j] * inv * wf[j];
  } else {
    for (int64_t j = 0; j < dim; ++j) y[j] = x[j] * inv * loadAsFloat(w, wt, j);
  }
}
}  // namespace

void rmsnorm(const Context& ctx, const RmsNormArgs& a) {
  int64_t grain = std::max<int64_t>(1, 4096 / std::max<int64_t>(a.dim, 1));
  ctx.pool->parallelFor(a.rows, grain, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      rmsnormRow(a.x + r * a.dim, a.weight, a.weightType, a.out + r * a.dim, a.dim, a.eps,
                 a.invRms ? a.invRms + r : nullptr);
  });
}

}  // namespace gmai::cpu
