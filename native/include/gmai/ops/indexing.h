#pragma once
namespace gmai {
// dst[idx[i], :] = src[i, :] for i < count (rows of width dim, float32). Indices are checked
// by the binding; with repeated indices the result row is one of the written rows.
struct ScatterRowsArgs {
  int64_t count = 0, dim = 0;
  const int32_t* idx = nullptr; const float* src = nullptr; float* dst = nullptr;
};
// op `scatterRows` (listed in gmai/ops.h)

// GELU, exact (erf) form: out = x/2 · (1 + erf(x/√2)) — the vision merger's nn.GELU().
struct GeluArgs { int64_t n = 0; const float* x = nullptr; float* out = nullptr; };
// op `gelu` (listed in gmai/ops.h)

// Backward of the exact GELU: dx = dy · (Φ(x) + x·φ(x)), Φ(x) = (1 + erf(x/√2))/2,
// φ(x) = exp(−x²/2)/√(2π).
struct GeluBackwardArgs { int64_t n = 0; const float* dy = nullptr; const float* x = nullptr; float* dx = nullptr; };
// op `geluBackward` (listed in gmai/ops.h)
}  // namespace gmai
