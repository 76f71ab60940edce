// RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w, one row at a time, float32 accumulation.
#include <cmath>

#include "gmai/ops.h"
#include "simd.h"

namespace gmai::cpu {

namespace {
GMAI_MULTIVERSION void rmsnormRow(const float* x, const void* w, DType wt, float* y, int64_t dim,
                                  float eps, float* invRmsOut) {
  float ss = 0.0f;
  for (int64_t j = 0; j < dim; ++j) ss += x[j] * x[j];
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
