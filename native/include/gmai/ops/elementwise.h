#pragma once
// Simple ops over contiguous float32 arrays, plus dtype conversion and embedding gather.
namespace gmai {

enum class BinaryOp : int32_t { Add = 0, Mul = 1, Sub = 2, Div = 3 };
// out[i] = a[i] op b[i % bCount]  (b broadcasts over rows when bCount divides n)
struct BinaryArgs {
  BinaryOp op = BinaryOp::Add;
  int64_t n = 0, bCount = 0;
  const float* a = nullptr; const float* b = nullptr; float* out = nullptr;
};
// op `binary` (listed in gmai/ops.h)

// out[i] = a[i] * scale + shift
struct ScaleArgs { int64_t n = 0; const float* a = nullptr; float* out = nullptr; float scale = 1, shift = 0; };
// op `scale` (listed in gmai/ops.h)

// SwiGLU: out = silu(gate) * up, silu(x) = x / (1 + exp(-x)).
struct SwigluArgs { int64_t n = 0; const float* gate = nullptr; const float* up = nullptr; float* out = nullptr; };
// op `swiglu` (listed in gmai/ops.h)

// Row-wise softmax over the last dimension: [rows, cols], optional scale applied first.
struct SoftmaxArgs { int64_t rows = 0, cols = 0; const float* x = nullptr; float* out = nullptr; float scale = 1; };
// op `softmax` (listed in gmai/ops.h)

// Element type conversion between float32, bfloat16 and float16 (and float64 -> float32).
struct ConvertArgs { int64_t n = 0; const void* src = nullptr; DType srcType = DType::F32; void* dst = nullptr; DType dstType = DType::F32; };
// op `convert` (listed in gmai/ops.h)

// out[i, :] = table[ids[i], :] converted to float32; table is [rows, dim] in f32/bf16/f16.
struct EmbeddingArgs {
  int64_t count = 0, dim = 0, rows = 0;
  const int32_t* ids = nullptr; const void* table = nullptr; DType tableType = DType::F32;
  float* out = nullptr;
};
// op `embedding` (listed in gmai/ops.h)

}  // namespace gmai
