// CUDA versions of the loss family (contracts in native/include/gmai/ops/loss.h): token
// log-probs forward and backward, chunked over rows (cuda::gemm makes each chunk's logits, one
// block per row reduces them), and the GRPO per-token loss (one thread per row, the row maths
// shared with the CPU in grpo_row.h, the batch sums added in row order by one thread).
#include <algorithm>
#include <cfloat>

#include "common.cuh"
#include "grpo_row.h"

namespace gmai::cuda {

namespace {
constexpr int kThreads = 256;

// One block per row of logits l [count, vocab] (raw, before 1/τ): lse, logp, entropy.
__global__ void forwardRows(TokenLogprobsArgs a, const float* logits, int64_t r0) {
  __shared__ float shared[kThreads / 32];
  const int64_t r = r0 + blockIdx.x;
  const float* l = logits + int64_t(blockIdx.x) * a.vocab;
  const float invT = a.invTemperature;
  float m = -INFINITY;
  for (int64_t v = threadIdx.x; v < a.vocab; v += kThreads) m = fmaxf(m, l[v] * invT);
  m = blockReduceMax<kThreads>(m, shared);
  float s = 0.0f, sz = 0.0f;
  for (int64_t v = threadIdx.x; v < a.vocab; v += kThreads) {
    const float z = l[v] * invT, e = expf(z - m);
    s += e;
    sz += e * z;
  }
  s = blockReduceSum<kThreads>(s, shared);
  sz = blockReduceSum<kThreads>(sz, shared);
  if (threadIdx.x == 0) {
    const float lse = m + logf(s);
    a.lse[r] = lse;
    a.logp[r] = l[a.targets[r]] * invT - lse;
    if (a.entropy) a.entropy[r] = lse - sz / s;  // −Σ p·log p = lse − Σ p·z
  }
}

// One block per row: d = dlogp·(onehot − softmax(l/τ))/τ, softmax from the forward's lse.
// d may alias l (each thread reads an element before writing it).
__global__ void backwardRows(TokenLogprobsBackwardArgs a, const float* logits, float* d, int64_t r0) {
  const int64_t r = r0 + blockIdx.x;
  const float* l = logits + int64_t(blockIdx.x) * a.vocab;
  float* out = d + int64_t(blockIdx.x) * a.vocab;
  const float g = a.dlogp[r] * a.invTemperature, lse = a.lse[r], invT = a.invTemperature;
  const int32_t target = a.targets[r];
  for (int64_t v = threadIdx.x; v < a.vocab; v += kThreads) {
    const float p = g == 0.0f ? 0.0f : expf(l[v] * invT - lse);
    out[v] = g * ((v == target ? 1.0f : 0.0f) - p);
  }
}

// dst [cols, rows] = src [rows, cols]ᵀ through a shared tile.
__global__ void transposeKernel(const float* src, int64_t rows, int64_t cols, float* dst) {
  __shared__ float tile[32][33];
  const int64_t c0 = int64_t(blockIdx.x) * 32, r0 = int64_t(blockIdx.y) * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = src[r * cols + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t c = c0 + i, r = r0 + threadIdx.x;
    if (r < rows && c < cols) dst[c * rows + r] = tile[threadIdx.x][i];
  }
}

__global__ void grpoRowTokens(GrpoTokenLossArgs a, double* tokens) {
  const int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b < a.B) tokens[b] = grpo::rowTokens(a, b);
}
__global__ void grpoRows(GrpoTokenLossArgs a, const double* tokens, double* rowStats) {
  const int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= a.B) return;
  double all = 0.0;
  for (int64_t i = 0; i < a.B; ++i) all += tokens[i];  // same order as the CPU
  grpo::lossRow(a, b, all, rowStats + b * kGrpoStatCount);
}
__global__ void grpoSumStats(GrpoTokenLossArgs a, const double* rowStats) {
  for (int s = 0; s < kGrpoStatCount; ++s) {
    double total = 0.0;
    for (int64_t b = 0; b < a.B; ++b) total += rowStats[b * kGrpoStatCount + s];
    a.stats[s] = float(total);
  }
}
}  // namespace

namespace {
// The backward of one chunk whose logits are in dz [count, vocab] (overwritten with their
// gradient): its rows of dx, and its share of dLmHead (through dzT, a chunk-sized buffer).
void backwardChunk(const Context& ctx, const TokenLogprobsBackwardArgs& a, int64_t r0, int64_t count, float* dz, float* dzT) {
  cudaStream_t stream = streamOf(ctx);
  backwardRows<<<unsigned(count), kThreads, 0, stream>>>(a, dz, dz, r0);
  checkLaunch("tokenLogprobsBackward");
  gemm(ctx, chunkDxGemm(a, r0, count, dz));
  if (a.dLmHead) {  // dLmHead += dzᵀ · x[chunk]
    dim3 grid(unsigned((a.vocab + 31) / 32), unsigned((count + 31) / 32));
    transposeKernel<<<grid, dim3(32, 8), 0, stream>>>(dz, count, a.vocab, dzT);
    checkLaunch("tokenLogprobsBackward transpose");
    GemmArgs h;
    h.M = a.vocab; h.N = a.hidden; h.K = count;
    h.A = dzT; h.lda = count;
    h.B = a.x + r0 * a.hidden; h.dtypeB = DType::F32; h.bTransposed = false; h.ldb = a.hidden;
    h.C = a.dLmHead; h.ldc = a.hidden; h.beta = 1.0f;
    gemm(ctx, h);
  }
}
}  // namespace

void tokenLogprobs(const Context& ctx, const TokenLogprobsArgs& a) {
  cudaStream_t stream = streamOf(ctx);
  if (!a.lmHead) {
    forwardRows<<<unsigned(a.rows), kThreads, 0, stream>>>(a, a.x, 0);
    checkLaunch("tokenLogprobs");
    return;
  }
  const int64_t chunk = tokenLogprobsChunkRows(a.chunkRows, a.rows, a.vocab);
  const size_t chunkBytes = size_t(chunk) * size_t(a.vocab) * sizeof(float);
  DeviceBuffer logits(chunkBytes, stream), dzTBuf(a.dlogp && a.dLmHead ? chunkBytes : 0, stream);
  float* buf = reinterpret_cast<float*>(logits.data());
  const TokenLogprobsBackwardArgs backward = backwardOf(a);
  for (int64_t r0 = 0; r0 < a.rows; r0 += chunk) {
    const int64_t count = std::min(chunk, a.rows - r0);
    gemm(ctx, chunkLogitsGemm(a, r0, count, buf));
    forwardRows<<<unsigned(count), kThreads, 0, stream>>>(a, buf, r0);
    checkLaunch("tokenLogprobs");
    // The fused backward: the chunk's logits (and, in stream order, its lse) are at hand.
    if (a.dlogp) backwardChunk(ctx, backward, r0, count, buf, reinterpret_cast<float*>(dzTBuf.data()));
  }
}

void tokenLogprobsBackward(const Context& ctx, const TokenLogprobsBackwardArgs& a) {
  cudaStream_t stream = streamOf(ctx);
  if (!a.lmHead) {
    backwardRows<<<unsigned(a.rows), kThreads, 0, stream>>>(a, a.x, a.dx, 0);
    checkLaunch("tokenLogprobsBackward");
    return;
  }
  const int64_t chunk = tokenLogprobsChunkRows(a.chunkRows, a.rows, a.vocab);
  const size_t chunkBytes = size_t(chunk) * size_t(a.vocab) * sizeof(float);
  DeviceBuffer dzBuf(chunkBytes, stream), dzTBuf(a.dLmHead ? chunkBytes : 0, stream);
  float* dz = reinterpret_cast<float*>(dzBuf.data());
  for (int64_t r0 = 0; r0 < a.rows; r0 += chunk) {
    const int64_t count = std::min(chunk, a.rows - r0);
    gemm(ctx, chunkLogitsGemm(a, r0, count, dz));  // the forward's logits, recomputed
    backwardChunk(ctx, a, r0, count, dz, reinterpret_cast<float*>(dzTBuf.data()));
  }
}

void grpoTokenLoss(const Context& ctx, const GrpoTokenLossArgs& a) {
  cudaStream_t stream = streamOf(ctx);
  DeviceBuffer scratch(size_t(a.B) * (1 + kGrpoStatCount) * sizeof(double), stream);
  double* tokens = reinterpret_cast<double*>(scratch.data());
  double* rowStats = tokens + a.B;
  if (a.B > 0) {
    constexpr int kRowThreads = 64;
    grpoRowTokens<<<blocksFor(a.B, kRowThreads), kRowThreads, 0, stream>>>(a, tokens);
    checkLaunch("grpoTokenLoss");
    grpoRows<<<blocksFor(a.B, kRowThreads), kRowThreads, 0, stream>>>(a, tokens, rowStats);
    checkLaunch("grpoTokenLoss");
  }
  grpoSumStats<<<1, 1, 0, stream>>>(a, rowStats);
  checkLaunch("grpoTokenLoss");
}

}  // namespace gmai::cuda
