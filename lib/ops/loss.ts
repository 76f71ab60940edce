// Losses over the vocabulary (native ops tokenLogprobs / tokenLogprobsBackward / grpoTokenLoss,
// contracts in native/include/gmai/ops/loss.h). tokenLogprobs works from hidden states and
// lm_head in row chunks, so the (tokens × vocabulary) logits never exist at once: extra memory
// is O(chunkRows × vocabulary). It is the building block of the SFT cross-entropy
// (loss = −mean logp over completion tokens) and of the GRPO loss.
import { native, type GrpoTokenLossConfig } from '../native.js';
import { recordingTape } from '../tape.js';
import { Tensor, disposeAll } from '../tensor.js';

type F32 = Tensor<'float32'>;
type Weight = Tensor<'float32' | 'bfloat16' | 'float16'>;

export interface TokenLogprobsOptions {
  /** Logits are divided by this (sampling temperature τ). Default 1. */
  temperature?: number;
  /** Also return the entropy of softmax(z) per row. */
  entropy?: boolean;
  /** Rows per chunk; default: about 32 MB of logits per chunk. */
  chunkRows?: number;
  /**
   * The upstream gradient ∂loss/∂logp [N], when it is known before the forward (SFT: −1/tokens
   * on every row): the backward then runs in the same pass over the chunks, so each chunk's
   * logits are computed once instead of twice, and `dhidden` is returned (with `dLmHead`, lm_head's
   * gradient is added into it). Not recorded on a tape (the caller propagates `dhidden`).
   */
  grad?: { dlogp: F32; dLmHead?: F32 };
}

export interface TokenLogprobs extends Disposable {
  /** z[target] − logsumexp(z) per row, z = hidden·lmHeadᵀ/τ. */
  logp: F32;
  /** logsumexp(z) per row (the backward needs it). */
  lse: F32;
  entropy?: F32;
  /** ∂loss/∂hidden [N, H], with `grad`. */
  dhidden?: F32;
}

/**
 * Log-probability of `targets` under softmax(hidden·lmHeadᵀ / τ), per row: hidden [N, H],
 * lmHead [V, H] (f32/bf16/f16), targets int32 [N]. With `lmHead` null, `hidden` is the logits [N, V].
 */
export function tokenLogprobs(hidden: F32, lmHead: Weight | null, targets: Tensor<'int32'>, opts: TokenLogprobsOptions = {}): TokenLogprobs {
  const rows = hidden.shape[0] ?? 0;
  const dev = { device: hidden.device };
  const logp = Tensor.empty([rows], dev), lse = Tensor.empty([rows], dev);
  const entropy = opts.entropy ? Tensor.empty([rows], dev) : undefined;
  if (opts.grad && recordingTape()) throw new Error("tokenLogprobs: 'grad' (the fused backward) cannot run while a tape records; call it under noGrad and propagate dhidden");
  const dhidden = opts.grad ? Tensor.empty(hidden.shape, dev) : undefined;
  try {
    native().tokenLogprobs(hidden.handle, lmHead?.handle ?? null, targets.handle, logp.handle, lse.handle, entropy?.handle ?? null,
      { temperature: opts.temperature ?? 1, chunkRows: opts.chunkRows ?? 0 },
      opts.grad && { dlogp: opts.grad.dlogp.handle, dx: dhidden!.handle, dLmHead: opts.grad.dLmHead?.handle ?? null });
  } catch (e) {
    disposeAll(logp, lse, entropy, dhidden);
    throw e;
  }
  if (dhidden) return { logp, lse, entropy, dhidden, [Symbol.dispose]: () => disposeAll(logp, lse, entropy, dhidden) };
  // Under a tape, logp records: its backward recomputes each chunk's logits from the saved
  // hidden rows and lse (nothing of size N×V is kept).
  recordingTape()?.record('tokenLogprobs', [hidden, lmHead], [logp], (save) => {
    const h = save(hidden), w = save(lmHead), t = save(targets), l = save(lse);
    const tape = recordingTape()!;
    const wantW = lmHead !== null && tape.needsGrad(lmHead);
    return ([g]) => {
      const dW = wantW ? Tensor.zeros(lmHead!.shape, { device: hidden.device }) : undefined;
      try {
        return [tokenLogprobsBackward(h, w, t, l, g!, { temperature: opts.temperature, chunkRows: opts.chunkRows, dLmHead: dW }), dW];
      } catch (e) {
        dW?.dispose();
        throw e;
      }
    };
  });
  return { logp, lse, entropy, [Symbol.dispose]: () => disposeAll(logp, lse, entropy) };
}

export interface TokenLogprobsBackwardOptions {
  temperature?: number;
  chunkRows?: number;
  /** lm_head's gradient [V, H] float32: dzᵀ·hidden is added into it. */
  dLmHead?: F32;
}

/**
 * Backward of tokenLogprobs for the upstream gradient `dlogp` [N]; returns dhidden [N, H]
 * (dlogits [N, V] when `lmHead` is null), recomputing each chunk's logits. `lse` comes from
 * the forward; rows with dlogp = 0 are skipped (their gradient rows are 0).
 */
export function tokenLogprobsBackward(hidden: F32, lmHead: Weight | null, targets: Tensor<'int32'>, lse: F32, dlogp: F32,
  opts: TokenLogprobsBackwardOptions = {}): F32 {
  const dx = Tensor.empty(hidden.shape, { device: hidden.device });
  try {
    native().tokenLogprobsBackward(hidden.handle, lmHead?.handle ?? null, targets.handle, lse.handle, dlogp.handle, dx.handle,
      opts.dLmHead?.handle ?? null, { temperature: opts.temperature ?? 1, chunkRows: opts.chunkRows ?? 0 });
  } catch (e) {
    dx.dispose();
    throw e;
  }
  return dx;
}

export type GrpoLossType = GrpoTokenLossConfig['lossType'];
export type { GrpoTokenLossConfig };

/** Sums behind TRL's logged GRPO metrics (see grpoTokenLoss). */
export interface GrpoTokenLossStats {
  loss: number;
  /** Real completion tokens (Σ mask). */
  tokens: number;
  klSum: number;
  entropySum: number;
  lowClipped: number;
  highClipped: number;
  regionClipped: number;
  cispoClipped: number;
  /** Denominator of the clip ratios: tokens (token level) or rows (sequence level). */
  clipCount: number;
}
/** Slots of the native op's stats tensor (GrpoStat in gmai/ops/loss.h). */
const STAT_COUNT = 9;

export interface GrpoTokenLoss extends Disposable {
  /** ∂loss/∂logp [B, T]. */
  dlogp: F32;
  /** Per-token loss before masking [B, T] (policy term + β·kl). */
  perTokenLoss: F32;
  /** Importance ratio after the δ cap [B, T] (broadcast over T at sequence level). */
  coef1: F32;
  /** clip(ratio, 1 − εlow, 1 + εhigh) [B, T]. */
  coef2: F32;
  /** k3 KL to the reference [B, T] (0 when β = 0). */
  kl: F32;
  stats: GrpoTokenLossStats;
}

export interface GrpoTokenLossInputs {
  /** Current-policy log-probs [B, T]. */
  logp: F32;
  /** Sampling-policy log-probs [B, T]; absent: the current ones, detached (ratio 1). */
  oldLogp?: F32 | null;
  /** Reference-policy log-probs [B, T]; needed when β ≠ 0. */
  refLogp?: F32 | null;
  advantages: F32;
  /** 1 for real completion tokens, 0 for padding [B, T]. */
  mask: F32;
  /** Per-token entropy [B, T] (for the mean-entropy metric only). */
  entropy?: F32 | null;
}

/**
 * The GRPO per-token loss of TRL's GRPOTrainer (v0.26) for one micro-batch, its gradient with
 * respect to logp and the metric sums. Formulas: test/fixtures/grpo/README.md.
 */
export function grpoTokenLoss(inputs: GrpoTokenLossInputs, config: GrpoTokenLossConfig): GrpoTokenLoss {
  const { logp } = inputs;
  const dev = { device: logp.device };
  const outs = {
    dlogp: Tensor.empty(logp.shape, dev), perTokenLoss: Tensor.empty(logp.shape, dev),
    coef1: Tensor.empty(logp.shape, dev), coef2: Tensor.empty(logp.shape, dev), kl: Tensor.empty(logp.shape, dev),
  };
  const all = () => Object.values(outs);
  using stats = Tensor.empty([STAT_COUNT], dev);
  try {
    native().grpoTokenLoss(logp.handle, inputs.oldLogp?.handle ?? null, inputs.refLogp?.handle ?? null, inputs.advantages.handle,
      inputs.mask.handle, inputs.entropy?.handle ?? null,
      { dlogp: outs.dlogp.handle, perTokenLoss: outs.perTokenLoss.handle, coef1: outs.coef1.handle, coef2: outs.coef2.handle, kl: outs.kl.handle, stats: stats.handle },
      config);
  } catch (e) {
    disposeAll(all());
    throw e;
  }
  const v = stats.toArray();
  const s: GrpoTokenLossStats = {
    loss: v[0], tokens: v[1], klSum: v[2], entropySum: v[3], lowClipped: v[4], highClipped: v[5],
    regionClipped: v[6], cispoClipped: v[7], clipCount: v[8],
  };
  return { ...outs, stats: s, [Symbol.dispose]: () => disposeAll(all()) };
}
