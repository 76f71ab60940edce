#pragma once
// C[b] = alpha * op(A[b]) · op(B[b]) (+ bias) + beta * C[b], for b in [0, batch).
// A: float32, stored [M, K] (aTransposed = false, row stride lda >= K) or [K, M]
// (aTransposed = true, row stride lda >= M: the weight gradient dW = dYᵀ·X of a Linear
// reads dY [T, out] this way). B: float32, bfloat16 or float16, stored either
// [K, N] (bTransposed = false, row stride ldb >= N) or [N, K] (bTransposed = true, the
// layout of a Hugging Face Linear weight [out, in], row stride ldb >= K). C: float32 [M, N].
// beta == 0 means C is write-only (its old contents, even NaN, are ignored).
namespace gmai {
struct GemmArgs {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  const float* A = nullptr; bool aTransposed = false; int64_t lda = 0, strideA = 0;
  const void* B = nullptr; DType dtypeB = DType::F32; bool bTransposed = false;
  int64_t ldb = 0, strideB = 0;
  float* C = nullptr; int64_t ldc = 0, strideC = 0;
  const float* bias = nullptr;  // [N], optional, added once per output row
  float alpha = 1.0f, beta = 0.0f;
};
// op `gemm` (listed in gmai/ops.h)

// Several products of one A (the q, k and v projections of a hidden state, or gate and up):
// parts[i] are GemmArgs with the same A, lda, M and K, batch 1. Decode-sized ones (M <= 8,
// one B dtype and layout) run as one sweep over all their B rows with one thread-pool
// dispatch, which matters when each part is small; anything else runs part by part.
constexpr int kMaxGemmGroup = 8;
struct GemmGroupArgs {
  GemmArgs parts[kMaxGemmGroup];
  int count = 0;
};
// op `gemmGroup` (listed in gmai/ops.h)
}  // namespace gmai
