#pragma once
// Optimiser kernels over a list of tensors in one call (one thread dispatch or kernel launch for
// the whole model, not one per parameter).
//
// The work is cut into chunks of at most kOptimChunkElements elements, each inside one tensor;
// the addon plans the chunks (planOptimChunks) and both backends process chunk by chunk, so the
// CPU threads split the total element count whatever the tensor sizes, and every result that is
// a sum is added in the same chunk order on every backend and thread count.
namespace gmai {

constexpr int64_t kOptimChunkElements = int64_t(1) << 16;

// A piece [begin, end) of tensor `tensor` of the list.
struct OptimChunk { int32_t tensor = 0; int64_t begin = 0, end = 0; };

// One parameter of an AdamW step. The four float32 arrays have `n` elements.
struct AdamwTensor {
  float* param = nullptr;        // fp32 master weights, updated in place
  const float* grad = nullptr;
  float* expAvg = nullptr;       // first moment m, updated in place
  float* expAvgSq = nullptr;     // second moment v, updated in place
  void* modelWeight = nullptr;   // optional: receives the updated param (f32, or bf16 rounded to nearest even)
  DType modelType = DType::F32;
  int64_t n = 0;
  float decayFactor = 1.0f;      // 1 - lr * weightDecay (computed in double by the caller)
};

// torch.optim.AdamW (decoupled weight decay), element by element, float32 math in the order and
// with the fused multiply-adds of torch's CPU kernels (bit-identical to torch 1.13 on the CPU):
//   g = grad * gradScale
//   m = fma(g, 1 - beta1, beta1 * m)
//   v = fma((1 - beta2) * g, g, beta2 * v)
//   p = p * decayFactor + (-stepSize * m) / (sqrt(v) / biasCorrection2Sqrt + eps)   (no FMA)
// with stepSize = lr / (1 - beta1^step), biasCorrection2Sqrt = sqrt(1 - beta2^step), 1 - beta1
// and 1 - beta2 computed in double by the caller and rounded to float (as torch's scalars are). `tensors` and `chunks` are host arrays on both backends.
struct AdamwArgs {
  const AdamwTensor* tensors = nullptr; int32_t count = 0;
  const OptimChunk* chunks = nullptr; int64_t chunkCount = 0;
  float beta1 = 0.9f, beta2 = 0.999f, oneMinusBeta1 = 0.1f, oneMinusBeta2 = 0.001f, eps = 1e-8f;
  float stepSize = 0.0f, biasCorrection2Sqrt = 1.0f, gradScale = 1.0f;
};
// op `adamw` (listed in gmai/ops.h)

// Σ x² over every element of every tensor, in float64: per chunk, then the chunk sums in chunk
// order (so the result does not depend on the thread count). `tensors`, `chunks` and `result`
// are host memory on both backends.
struct SumOfSquaresArgs {
  const float* const* tensors = nullptr; int32_t count = 0;
  const OptimChunk* chunks = nullptr; int64_t chunkCount = 0;
  double* result = nullptr;
};
// op `sumOfSquares` (listed in gmai/ops.h)

}  // namespace gmai
