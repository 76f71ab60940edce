#pragma once
namespace gmai {
// RMSNorm over the last dimension: out = x / sqrt(mean(x^2) + eps) * weight.
// x, out: float32 [rows, dim]; weight: [dim] in f32/bf16/f16 (or null for none).
// invRms, when not null, receives 1/sqrt(mean(x^2)+eps) per row: what backward needs.
struct RmsNormArgs {
  int64_t rows = 0, dim = 0;
  const float* x = nullptr; const void* weight = nullptr; DType weightType = DType::F32;
  float* out = nullptr; float* invRms = nullptr; float eps = 1e-6f;
};
// op `rmsnorm` (listed in gmai/ops.h)

// Backward of rmsnorm for upstream gradient dy [rows, dim], with r = invRms[row] saved by the
// forward and g = dy ⊙ weight:
//   dx = r · g − x · r³ · (Σ_j g_j·x_j) / dim
//   dweight[j] += Σ_rows dy[row, j] · x[row, j] · r       (when dweight is not null)
// dweight accumulates (the caller zeroes it once per step); each column is summed over rows in
// order, so the result is deterministic and does not depend on the thread count.
struct RmsNormBackwardArgs {
  int64_t rows = 0, dim = 0;
  const float* dy = nullptr; const float* x = nullptr;
  const void* weight = nullptr; DType weightType = DType::F32;
  const float* invRms = nullptr;
  float* dx = nullptr; float* dweight = nullptr;
};
// op `rmsnormBackward` (listed in gmai/ops.h)
}  // namespace gmai
