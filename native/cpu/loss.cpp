// CPU kernels of the loss family (contracts in native/include/gmai/ops/loss.h): token
// log-probs and their backward, chunked over rows so that only chunkRows × vocab logits exist
// at a time (each chunk is one call of the GEMM kernel, threaded inside), and the GRPO
// per-token loss (one row per task; the row maths is shared with CUDA in grpo_row.h).
#include <cmath>
#include <vector>

#include "gmai/ops.h"
#include "grpo_row.h"
#include "scratch.h"
#include "simd.h"
#include "vmath.h"

namespace gmai::cpu {

namespace {

// Σ_v w[v]·l[v] in double, in blocks of float partial sums (the compiler vectorises them).
GMAI_MULTIVERSION double weightedSum(const float* w, const float* l, int64_t n) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    float acc = 0.0f;
    for (int64_t j = b; j < e; ++j) acc += w[j] * l[j];
    total += acc;
  }
  return total;
}

// One row of the forward: l are raw logits (before 1/τ); w is scratch of vocab floats.
void forwardRow(const TokenLogprobsArgs& a, const float* l, int64_t r, float* w) {
  const float invT = a.invTemperature;
  const float lMax = vmath::scanRow(l, a.vocab).max;
  const double sum = vmath::expWeights(l, lMax, invT, w, a.vocab);  // w = exp((l − max)/τ)
  const double lse = double(lMax) * invT + std::log(sum);
  a.lse[r] = float(lse);
  a.logp[r] = float(double(l[a.targets[r]]) * invT - lse);
  // entropy = lse − Σ p·z, with p = w / sum and z = l/τ
  if (a.entropy) a.entropy[r] = float(lse - weightedSum(w, l, a.vocab) * invT / sum);
}

// One row of the backward, written into d (may alias l): d = dlogp·(onehot − softmax)/τ.
void backwardRow(const TokenLogprobsBackwardArgs& a, const float* l, int64_t r, float* d) {
  const float g = a.dlogp[r] * a.invTemperature;
  if (g == 0.0f) {
    for (int64_t v = 0; v < a.vocab; ++v) d[v] = 0.0f;
    return;
  }
  const float lMax = vmath::scanRow(l, a.vocab).max;
  vmath::expWeights(l, lMax, a.invTemperature, d, a.vocab);  // exp((l − max)/τ)
  // softmax = exp((l − max)/τ) · exp(max/τ − lse); fold −g into the factor
  const float scale = -g * float(std::exp(double(lMax) * a.invTemperature - double(a.lse[r])));
  for (int64_t v = 0; v < a.vocab; ++v) d[v] *= scale;
  d[a.targets[r]] += g;
}

// Whether any row of the chunk has a gradient; if none, its dx rows are zeroed here.
bool chunkHasGradient(const TokenLogprobsBackwardArgs& a, int64_t r0, int64_t count) {
  for (int64_t i = 0; i < count; ++i)
    if (a.dlogp[r0 + i] != 0.0f) return true;
  for (int64_t i = 0; i < count * a.hidden; ++i) a.dx[r0 * a.hidden + i] = 0.0f;
  return false;
}

// The backward of one chunk whose logits are in dz [count, vocab] (overwritten with their
// gradient): its rows of dx, and its share of dLmHead.
void backwardChunk(const Context& ctx, const TokenLogprobsBackwardArgs& a, int64_t r0, int64_t count, float* dz) {
  ctx.pool->parallelFor(count, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) backwardRow(a, dz + i * a.vocab, r0 + i, dz + i * a.vocab);
  });
  gemm(ctx, chunkDxGemm(a, r0, count, dz));
  if (a.dLmHead) {  // dLmHead += dzᵀ · x[chunk]; the GEMM reads dz [count, vocab] as Aᵀ (no transposed copy)
    GemmArgs h;
    h.M = a.vocab; h.N = a.hidden; h.K = count;
    h.A = dz; h.aTransposed = true; h.lda = a.vocab;
    h.B = a.x + r0 * a.hidden; h.dtypeB = DType::F32; h.bTransposed = false; h.ldb = a.hidden;
    h.C = a.dLmHead; h.ldc = a.hidden; h.beta = 1.0f;
    gemm(ctx, h);
  }
}

}  // namespace

void tokenLogprobs(const Context& ctx, const TokenLogprobsArgs& a) {
  const int64_t chunk = tokenLogprobsChunkRows(a.chunkRows, a.rows, a.vocab);
  const int threads = ctx.pool->size();
  // Reused per calling thread (fresh buffers of this size cost more in page faults than the work).
  float* rows = threadScratch(ScratchSlot::LossRows, size_t(threads) * size_t(a.vocab));  // one softmax row per pool thread
  float* logits = a.lmHead ? threadScratch(ScratchSlot::LossChunk, size_t(std::min(chunk, a.rows)) * size_t(a.vocab)) : nullptr;
  const TokenLogprobsBackwardArgs backward = backwardOf(a);
  for (int64_t r0 = 0; r0 < a.rows; r0 += chunk) {
    const int64_t count = std::min(chunk, a.rows - r0);
    const float* l = a.x + r0 * a.vocab;
    if (a.lmHead) { gemm(ctx, chunkLogitsGemm(a, r0, count, logits)); l = logits; }
    ctx.pool->run([&](int tid, int nt) {
      float* w = rows + size_t(tid) * size_t(a.vocab);
      for (int64_t i = tid; i < count; i += nt) forwardRow(a, l + i * a.vocab, r0 + i, w);
    });
    // The fused backward: the chunk's logits (and now its lse) are at hand.
    if (a.lmHead && a.dlogp && chunkHasGradient(backward, r0, count)) backwardChunk(ctx, backward, r0, count, logits);
  }
}

void tokenLogprobsBackward(const Context& ctx, const TokenLogprobsBackwardArgs& a) {
  if (!a.lmHead) {  // logits in, logits' gradient out: every row on its own
    ctx.pool->parallelFor(a.rows, 1, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) backwardRow(a, a.x + r * a.vocab, r, a.dx + r * a.vocab);
    });
    return;
  }
  const int64_t chunk = tokenLogprobsChunkRows(a.chunkRows, a.rows, a.vocab);
  float* dz = threadScratch(ScratchSlot::LossChunk, size_t(std::min(chunk, a.rows)) * size_t(a.vocab));
  for (int64_t r0 = 0; r0 < a.rows; r0 += chunk) {
    const int64_t count = std::min(chunk, a.rows - r0);
    if (!chunkHasGradient(a, r0, count)) continue;  // nothing flows back through these rows
    gemm(ctx, chunkLogitsGemm(a, r0, count, dz));   // the forward's logits, recomputed
    backwardChunk(ctx, a, r0, count, dz);
  }
}

void grpoTokenLoss(const Context& ctx, const GrpoTokenLossArgs& a) {
  std::vector<double> rowStats(size_t(a.B) * kGrpoStatCount);
  double allTokens = 0.0;
  for (int64_t b = 0; b < a.B; ++b) allTokens += grpo::rowTokens(a, b);
  ctx.pool->parallelFor(a.B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) grpo::lossRow(a, b, allTokens, rowStats.data() + b * kGrpoStatCount);
  });
  for (int s = 0; s < kGrpoStatCount; ++s) {  // summed in row order: deterministic
    double total = 0.0;
    for (int64_t b = 0; b < a.B; ++b) total += rowStats[size_t(b) * kGrpoStatCount + s];
    a.stats[s] = float(total);
  }
}

}  // namespace gmai::cpu
