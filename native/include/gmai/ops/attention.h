#pragma once
namespace gmai {

// Scaled dot-product attention over packed variable-length sequences, flash style: queries
// are processed in blocks against blocks of keys with a running max and sum (online softmax),
// so no Tq×Tk score matrix is ever stored.
//   q [Tq, Hq, D], k and v [Tk, Hkv, D], out [Tq, Hq, D]: float32, contiguous. Hq = g·Hkv
//   (grouped-query attention: query head h reads kv head h / g).
//   cuSeqlensQ / cuSeqlensK: int32 [numSeqs + 1] boundaries (host memory); sequence s has
//   queries [cuQ[s], cuQ[s+1]) and keys [cuK[s], cuK[s+1]).
//   causal: query i of a sequence (0-based) sees keys j <= i + (lenK - lenQ) — aligned to the
//   bottom right, so a decode step (one query) sees the whole cache.
//   lse [Hq, Tq] (optional): log-sum-exp of the scaled scores of each query row, what the
//   backward pass needs. A row that sees no key gets out = 0 and lse = -inf.
struct AttentionArgs {
  int64_t Tq = 0, Tk = 0, Hq = 0, Hkv = 0, D = 0;
  const float* q = nullptr; const float* k = nullptr; const float* v = nullptr;
  float* out = nullptr; float* lse = nullptr;
  const int32_t* cuSeqlensQ = nullptr; const int32_t* cuSeqlensK = nullptr; int64_t numSeqs = 1;
  bool causal = false;
  float scale = 1.0f;
};
// op `attention` (listed in gmai/ops.h)

// Gradients of attention, flash style: the probabilities P = exp(S·scale − lse) are recomputed
// block by block from the forward's saved lse (no Tq×Tk matrix is stored). With
// Dᵢ = Σ_d dOᵢ·Oᵢ, dP = dO·Vᵀ and dS = P ∘ (dP − D):
//   dq = scale·dS·K,  dk = scale·dSᵀ·Q,  dv = Pᵀ·dO
// (with grouped-query attention dk and dv of a kv head sum over its g query heads).
//   q, k, v, cuSeqlens*, numSeqs, causal, scale: as given to the forward.
//   out [Tq, Hq, D] and lse [Hq, Tq]: what the forward produced (a row that saw no key has
//   lse = -inf and gets zero gradients); dout [Tq, Hq, D]: the gradient of the output.
//   dq [Tq, Hq, D], dk and dv [Tk, Hkv, D]: written in full (keys no query sees get zeros).
struct AttentionBackwardArgs {
  int64_t Tq = 0, Tk = 0, Hq = 0, Hkv = 0, D = 0;
  const float* q = nullptr; const float* k = nullptr; const float* v = nullptr;
  const float* out = nullptr; const float* lse = nullptr; const float* dout = nullptr;
  float* dq = nullptr; float* dk = nullptr; float* dv = nullptr;
  const int32_t* cuSeqlensQ = nullptr; const int32_t* cuSeqlensK = nullptr; int64_t numSeqs = 1;
  bool causal = false;
  float scale = 1.0f;
};
// op `attentionBackward` (listed in gmai/ops.h)

// Rotary position embedding, rotate-half convention (HF Qwen2/Qwen2.5-VL):
//   out[t,h,i]      = x[t,h,i]·cos[t,i] − x[t,h,i+D/2]·sin[t,i]
//   out[t,h,i+D/2]  = x[t,h,i+D/2]·cos[t,i] + x[t,h,i]·sin[t,i]      for i < D/2.
// x, out [T, H, D] (out may equal x); cos, sin [T, D/2] (M-RoPE sections already combined).
struct RopeArgs {
  int64_t T = 0, H = 0, D = 0;
  const float* x = nullptr; float* out = nullptr;
  const float* cos = nullptr; const float* sin = nullptr;
};
// op `rope` (listed in gmai/ops.h)
// op `ropeBackward` (listed in gmai/ops.h): the same RopeArgs with x = dy and out = dx. The
// rotation's transpose is the rotation by −angle, i.e. rope with sin negated:
//   dx[i] = dy[i]·cos + dy[i+D/2]·sin,  dx[i+D/2] = dy[i+D/2]·cos − dy[i]·sin.

}  // namespace gmai
