#pragma once
// C[b] = alpha * A[b] · op(B[b]) (+ bias) + beta * C[b], for b in [0, batch).
// A: float32 [M, K] (row stride lda). B: float32, bfloat16 or float16, stored either
// [K, N] (bTransposed = false, row stride ldb >= N) or [N, K] (bTransposed = true, the
// layout of a Hugging Face Linear weight [out, in], row stride ldb >= K). C: float32 [M, N].
// beta == 0 means C is write-only (its old contents, even NaN, are ignored).
namespace gmai {
struct GemmArgs {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  const float* A = nullptr; int64_t lda = 0, strideA = 0;
  const void* B = nullptr; DType dtypeB = DType::F32; bool bTransposed = false;
  int64_t ldb = 0, strideB = 0;
  float* C = nullptr; int64_t ldc = 0, strideC = 0;
  const float* bias = nullptr;  // [N], optional, added once per output row
  float alpha = 1.0f, beta = 0.0f;
};
GMAI_DECLARE_OP(gemm, GemmArgs)
}  // namespace gmai
