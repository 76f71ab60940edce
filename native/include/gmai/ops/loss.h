#pragma once
// Losses over the vocabulary without materialising (tokens × vocabulary) logits, and the GRPO
// per-token loss. Both backends take the same argument structs.
namespace gmai {

// Per-row log-probability of a target token, chunked over rows:
//   z = x · lmHeadᵀ · invTemperature   (x [rows, hidden], lmHead [vocab, hidden])
//   z = x · invTemperature             (lmHead == nullptr: x already holds logits [rows, vocab])
//   lse[r] = logsumexp_v z[r, v],  logp[r] = z[r, target[r]] − lse[r],
//   entropy[r] = −Σ_v softmax(z)·log softmax(z)   (optional).
// With lmHead the logits of at most chunkRows rows exist at a time (scratch O(chunkRows × vocab)),
// each chunk made by the GEMM kernel. Targets are checked to lie in [0, vocab) by the caller.
struct TokenLogprobsArgs {
  int64_t rows = 0, vocab = 0, hidden = 0;       // hidden is unused without lmHead
  const float* x = nullptr;
  const void* lmHead = nullptr; DType lmHeadType = DType::F32;
  const int32_t* targets = nullptr;               // [rows]
  float invTemperature = 1.0f;
  int64_t chunkRows = 0;                          // 0: chosen by the kernel (tokenLogprobsChunkRows)
  float* logp = nullptr;                          // [rows]
  float* lse = nullptr;                           // [rows]
  float* entropy = nullptr;                       // [rows], optional
  // Optional, with lmHead: the backward (below) in the same pass, for an upstream gradient known
  // before the forward (SFT: −1/tokens on every row), so each chunk's logits are made once, not
  // twice. Null dlogp: forward only.
  const float* dlogp = nullptr;                   // [rows]
  float* dx = nullptr;                            // [rows, hidden], written
  float* dLmHead = nullptr;                       // [vocab, hidden], optional, accumulated
};
// op `tokenLogprobs` (listed in gmai/ops.h)

// Backward of tokenLogprobs for an upstream gradient dlogp [rows], recomputing each chunk's
// logits from x (and lse from the forward):
//   dz[r, v] = dlogp[r] · (onehot(target[r])[v] − softmax(z[r])[v]) · invTemperature
//   dx = dz · lmHead                (written: [rows, hidden]);  dx = dz when lmHead is nullptr
//   dLmHead += dzᵀ · x              (optional, accumulated in float32: [vocab, hidden])
// Rows with dlogp == 0 contribute nothing (their dx rows are zeros).
struct TokenLogprobsBackwardArgs {
  int64_t rows = 0, vocab = 0, hidden = 0;
  const float* x = nullptr;
  const void* lmHead = nullptr; DType lmHeadType = DType::F32;
  const int32_t* targets = nullptr;
  const float* lse = nullptr;                     // [rows], from the forward
  const float* dlogp = nullptr;                   // [rows]
  float invTemperature = 1.0f;
  int64_t chunkRows = 0;
  float* dx = nullptr;                            // [rows, hidden] or [rows, vocab]
  float* dLmHead = nullptr;                       // [vocab, hidden], optional, accumulated
};
// op `tokenLogprobsBackward` (listed in gmai/ops.h)

// The backward half of a forward that carries its upstream gradient (TokenLogprobsArgs::dlogp).
inline TokenLogprobsBackwardArgs backwardOf(const TokenLogprobsArgs& a) {
  TokenLogprobsBackwardArgs b;
  b.rows = a.rows; b.vocab = a.vocab; b.hidden = a.hidden;
  b.x = a.x; b.lmHead = a.lmHead; b.lmHeadType = a.lmHeadType; b.targets = a.targets;
  b.lse = a.lse; b.dlogp = a.dlogp; b.invTemperature = a.invTemperature; b.chunkRows = a.chunkRows;
  b.dx = a.dx; b.dLmHead = a.dLmHead;
  return b;
}

// Rows per chunk when the caller gives none: about 8 M floats (32 MB) of logits per chunk.
inline int64_t tokenLogprobsChunkRows(int64_t chunkRows, int64_t rows, int64_t vocab) {
  int64_t c = chunkRows > 0 ? chunkRows : (int64_t(8) << 20) / (vocab > 0 ? vocab : 1);
  if (c < 1) c = 1;
  return c < rows ? c : (rows > 0 ? rows : 1);
}

// The GEMM of one chunk's logits, the same for both backends: rows [r0, r0 + count) of
// x · lmHeadᵀ into buf [count, vocab] (Args: TokenLogprobsArgs or TokenLogprobsBackwardArgs).
template <typename Args>
GemmArgs chunkLogitsGemm(const Args& a, int64_t r0, int64_t count, float* buf) {
  GemmArgs g;
  g.M = count; g.N = a.vocab; g.K = a.hidden;
  g.A = a.x + r0 * a.hidden; g.lda = a.hidden;
  g.B = a.lmHead; g.dtypeB = a.lmHeadType; g.bTransposed = true; g.ldb = a.hidden;
  g.C = buf; g.ldc = a.vocab;
  return g;
}

// The backward's input-gradient GEMM of one chunk, the same for both backends:
// dx[r0, r0 + count) = dz [count, vocab] · lmHead (lmHead [vocab, hidden] is [K, N]).
inline GemmArgs chunkDxGemm(const TokenLogprobsBackwardArgs& a, int64_t r0, int64_t count, const float* dz) {
  GemmArgs g;
  g.M = count; g.N = a.hidden; g.K = a.vocab;
  g.A = dz; g.lda = a.vocab;
  g.B = a.lmHead; g.dtypeB = a.lmHeadType; g.bTransposed = false; g.ldb = a.hidden;
  g.C = a.dx + r0 * a.hidden; g.ldc = a.hidden;
  return g;
}

// The GRPO per-token loss of TRL's GRPOTrainer._compute_loss (v0.26), its gradient with
// respect to the per-token log-probs, and the sums behind TRL's logged metrics. B rows
// (completions) of T tokens; formulas in test/fixtures/grpo/README.md:
//   ρ = exp(logp − oldLogp) per token, or exp(masked mean of logp − oldLogp) per row (sequence
//   level, GSPO); no oldLogp means oldLogp = stopgrad(logp) (ρ = 1, ∂ρ/∂logp = 1).
//   grpo/bnpo/dr_grpo/dapo: ℓ = −min(min(ρ, δ)·A, clip(ρ, 1−εlow, 1+εhigh)·A)
//   cispo: ℓ = −stopgrad(min(ρ, εhigh))·A·logp;  sapo: ℓ = −(4/κ)·σ(κ(ρ−1))·A
//   plus β·kl, kl = exp(ref − logp) − (ref − logp) − 1 (k3), when β ≠ 0.
// The loss is Σ mask·ℓ·weight[b] with the aggregation weight of the loss type (grpo, sapo:
// 1/(rowTokens·B·GA); bnpo: 1/(allTokens·GA); dr_grpo: 1/(B·maxCompletionLength·GA);
// dapo, cispo: 1/numItems).
enum class GrpoLossType : int32_t { Grpo = 0, Bnpo = 1, DrGrpo = 2, Dapo = 3, Cispo = 4, Sapo = 5 };

// stats[] slots (sums over the batch; the binding turns them into TRL's means):
enum GrpoStat : int {
  kGrpoLoss = 0,          // the aggregated loss
  kGrpoMaskSum,           // Σ mask (real tokens)
  kGrpoKlSum,             // Σ mask·kl
  kGrpoEntropySum,        // Σ mask·entropy (when entropy is given)
  kGrpoLowClipped,        // Σ mask·[coef1 < 1−εlow and A < 0]   (per row at sequence level)
  kGrpoHighClipped,       // Σ mask·[coef1 > 1+εhigh and A > 0]
  kGrpoRegionClipped,     // either of the two
  kGrpoCispoClipped,      // Σ mask·[ρ > εhigh and A > 0]
  kGrpoClipCount,         // denominator of the clip ratios: Σ mask (token level) or B (sequence level)
  kGrpoStatCount
};

struct GrpoTokenLossArgs {
  int64_t B = 0, T = 0;
  const float* logp = nullptr;        // [B, T]
  const float* oldLogp = nullptr;     // [B, T], optional
  const float* refLogp = nullptr;     // [B, T], needed when beta != 0
  const float* advantages = nullptr;  // [B]
  const float* mask = nullptr;        // [B, T], 0 or 1
  const float* entropy = nullptr;     // [B, T], optional (metric only)
  GrpoLossType lossType = GrpoLossType::Grpo;
  bool sequenceLevel = false;
  float beta = 0, epsilonLow = 0.2f, epsilonHigh = 0.2f;
  bool hasDelta = false; float delta = 0;
  float sapoTemperaturePos = 1, sapoTemperatureNeg = 1.05f;
  float maxCompletionLength = 0;      // dr_grpo
  float numItems = 1;                 // dapo, cispo: num_items_in_batch / num_processes
  float gradientAccumulationSteps = 1;
  float* dlogp = nullptr;             // [B, T]: ∂loss/∂logp
  float* perTokenLoss = nullptr;      // [B, T]: ℓ before masking
  float* coef1 = nullptr;             // [B, T]: ρ after the δ cap
  float* coef2 = nullptr;             // [B, T]: clip(ρ, 1−εlow, 1+εhigh)
  float* kl = nullptr;                // [B, T]: k3 KL (0 when beta == 0)
  float* stats = nullptr;             // [kGrpoStatCount]
};
// op `grpoTokenLoss` (listed in gmai/ops.h)

}  // namespace gmai
