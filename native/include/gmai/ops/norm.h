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
}  // namespace gmai
