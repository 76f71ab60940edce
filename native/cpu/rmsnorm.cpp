// RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w, one row at a time, float32 accumulation; and
// its backward (dx by rows, the weight gradient by columns).
#include <algorithm>
#include <cmath>
#include <vector>

#include "gmai/ops.h"
#include "simd.h"
#include "vmath.h"

namespace gmai::cpu {

namespace {
GMAI_MULTIVERSION void rmsnormRow(const float* x, const void* w, DType wt, float* y, int64_t dim,
                                  float eps, float* invRmsOut) {
  const float ss = vmath::dot(x, x, dim);  // Σ x²
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
// dx = r·g − x·r³·(Σ g·x)/dim with g = dy ⊙ w (w null: ones); the sum in 16 partial sums, as vmath::dot.
GMAI_MULTIVERSION void rmsnormBackwardRow(const float* dy, const float* x, const float* w, float r, float* dx,
                                          int64_t dim) {
  constexpr int kLanes = 16;
  float acc[kLanes] = {};
  int64_t j = 0;
  if (w) {
    for (; j + kLanes <= dim; j += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += dy[j + l] * w[j + l] * x[j + l];
    for (int l = 0; j < dim; ++j, ++l) acc[l] += dy[j] * w[j] * x[j];
  } else {
    for (; j + kLanes <= dim; j += kLanes)
      for (int l = 0; l < kLanes; ++l) acc[l] += dy[j + l] * x[j + l];
    for (int l = 0; j < dim; ++j, ++l) acc[l] += dy[j] * x[j];
  }
  for (int width = kLanes / 2; width > 0; width /= 2)
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  const float coef = r * r * r * acc[0] / float(dim);
  if (w) for (j = 0; j < dim; ++j) dx[j] = r * dy[j] * w[j] - x[j] * coef;
  else for (j = 0; j < dim; ++j) dx[j] = r * dy[j] - x[j] * coef;
}

// acc[j] += dy[j]·x[j]·r for j < n.
GMAI_MULTIVERSION void addScaledProduct(const float* dy, const float* x, float r, float* acc, int64_t n) {
  for (int64_t j = 0; j < n; ++j) acc[j] += dy[j] * x[j] * r;
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

void rmsnormBackward(const Context& ctx, const RmsNormBackwardArgs& a) {
  // bf16/f16 weights are widened once, so the row loop has one float path.
  std::vector<float> widened;
  const float* w = a.weightType == DType::F32 ? static_cast<const float*>(a.weight) : nullptr;
  if (a.weight && !w) {
    widened.resize(size_t(a.dim));
    for (int64_t j = 0; j < a.dim; ++j) widened[size_t(j)] = loadAsFloat(a.weight, a.weightType, j);
    w = widened.data();
  }
  ctx.pool->parallelFor(a.rows, std::max<int64_t>(1, 4096 / std::max<int64_t>(a.dim, 1)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      rmsnormBackwardRow(a.dy + r * a.dim, a.x + r * a.dim, w, a.invRms[r], a.dx + r * a.dim, a.dim);
  });
  if (!a.dweight) return;
  // Weight gradient: threads split the columns, each column summed over rows in order.
  constexpr int64_t kBlock = 256;
  ctx.pool->parallelFor(a.dim, std::max<int64_t>(16, 16384 / std::max<int64_t>(a.rows, 1)), [&](int64_t b, int64_t e) {
    for (int64_t j0 = b; j0 < e; j0 += kBlock) {
      const int64_t width = std::min(kBlock, e - j0);
      float acc[kBlock] = {};
      for (int64_t r = 0; r < a.rows; ++r) addScaledProduct(a.dy + r * a.dim + j0, a.x + r * a.dim + j0, a.invRms[r], acc, width);
      for (int64_t j = 0; j < width; ++j) a.dweight[j0 + j] += acc[j];
    }
  });
}

}  // namespace gmai::cpu
