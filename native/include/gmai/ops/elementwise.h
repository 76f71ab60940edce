#pragma once
// Simple ops over contiguous float32 arrays, plus dtype conversion and embedding gather, and
// the backward ops of those that have one.
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

// Backward of swiglu for upstream gradient dy: with s = sigmoid(gate),
//   dgate = dy · up · s · (1 + gate · (1 − s)),   dup = dy · gate · s.
struct SwigluBackwardArgs {
  int64_t n = 0;
  const float* dy = nullptr; const float* gate = nullptr; const float* up = nullptr;
  float* dgate = nullptr; float* dup = nullptr;
};
// op `swigluBackward` (listed in gmai/ops.h)

// Row-wise softmax over the last dimension: [rows, cols], optional scale applied first.
struct SoftmaxArgs { int64_t rows = 0, cols = 0; const float* x = nullptr; float* out = nullptr; float scale = 1; };
// op `softmax` (listed in gmai/ops.h)

// Backward of softmax for y = softmax(x·scale): dx = scale · y · (dy − Σ_j dy_j·y_j), per row.
struct SoftmaxBackwardArgs {
  int64_t rows = 0, cols = 0;
  const float* y = nullptr; const float* dy = nullptr; float* dx = nullptr; float scale = 1;
};
// op `softmaxBackward` (listed in gmai/ops.h)

// Column sums of x [rows, cols] (a bias gradient): out[j] = Σ_r x[r, j], or out[j] += that
// when accumulate. Each column is summed over rows in order: the result does not depend on
// the thread count.
struct SumRowsArgs {
  int64_t rows = 0, cols = 0;
  const float* x = nullptr; float* out = nullptr; bool accumulate = false;
};
// op `sumRows` (listed in gmai/ops.h)

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

// Backward of embedding (and of a row gather): dtable[ids[i], :] += dy[i, :] for i < count,
// in order of i, so repeated ids add up deterministically (threads split the dim columns).
// dtable: float32 [rows, dim]; ids are range-checked by the binding.
struct EmbeddingBackwardArgs {
  int64_t count = 0, dim = 0, rows = 0;
  const int32_t* ids = nullptr; const float* dy = nullptr; float* dtable = nullptr;
};
// op `embeddingBackward` (listed in gmai/ops.h)

}  // namespace gmai
