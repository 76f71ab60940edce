// The Qwen2.5-VL text decoder (Qwen2 layers with M-RoPE): token embeddings with image rows
// substituted, pre-norm GQA attention with q/k/v biases, SwiGLU MLP, final RMSNorm, lm_head.
// Every forward goes through the KV cache: a full forward is a prefill into a fresh cache.
import { attention, rope, scatterRows } from '../ops/attention.js';
import { embedding, linear, rmsnorm, swiglu } from '../ops/basic.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import type { TextConfig } from './config.js';
import type { KvCache } from './kv-cache.js';
import { addLinear } from './residual.js';
import { mropeCosSin } from './rope-index.js';
import type { Trace } from './vision.js';
import type { DecoderLayerWeights, F32, TextWeights } from './weights.js';


/**
 * Token embeddings [seq, hidden]; when `image` is given, its rows replace the rows at
 * `image.positions` (the <|image_pad|> tokens, checked by the caller to match in number).
 */
export function embedTokens(w: TextWeights, ids: Int32Array, image?: { rows: F32; positions: Int32Array }): F32 {
  using idsT = Tensor.from<'int32'>(ids, [ids.length]);
  const x = embedding(idsT, w.embed);
  if (image && image.positions.length > 0) {
    try {
      scatterRows(x, image.positions, image.rows);
    } catch (e) {
      x.dispose();
      throw e;
    }
  }
  return x;
}

function layer(x: F32, w: DecoderLayerWeights, cfg: TextConfig, cos: F32, sin: F32, cache: KvCache, i: number): void {
  const n = x.shape[0];
  const total = cache.length + n;
  {
    using h = rmsnorm(x, w.inputNorm, cfg.rmsNormEps);
    using q0 = linear(h, w.q.weight, w.q.bias);
    using k0 = linear(h, w.k.weight, w.k.bias);
    using q3 = q0.reshape([n, cfg.numHeads, cfg.headDim]);
    using k3 = k0.reshape([n, cfg.numKvHeads, cfg.headDim]);
    using q = rope(q3, cos, sin);
    using k = rope(k3, cos, sin);
    // This step's K (rotated) and V go into the cache rows [cache.length, cache.length + n).
    {
      const slot = cache.slot(i, n);
      try {
        using v2 = slot.v.reshape([n, cfg.numKvHeads * cfg.headDim]);
        native().copy(slot.k.handle, k.handle);
        linear(h, w.v.weight, w.v.bias, v2);
      } finally {
        slot.k.dispose();
        slot.v.dispose();
      }
    }
    const kv = cache.prefix(i, total);
    try {
      // Causal with the queries aligned to the end of the keys (bottom-right).
      using a = attention(q, kv.k, kv.v, { causal: true });
      using a2 = a.reshape([n, cfg.numHeads * cfg.headDim]);
      addLinear(x, a2, w.o);
    } finally {
      kv.k.dispose();
      kv.v.dispose();
    }
  }
  using h = rmsnorm(x, w.postNorm, cfg.rmsNormEps);
  using g = linear(h, w.gate.weight);
  using u = linear(h, w.up.weight);
  using s = swiglu(g, u);
  addLinear(x, s, w.down);
}

export interface DecodeOptions {
  trace?: Trace;
  /** Called with the residual stream after each layer (before the final norm for the last). */
  onLayer?: (i: number, x: F32) => void;
}

/**
 * Runs every layer over `x` [n, hidden] (updated in place: the residual stream) at the given
 * 3×n positions, appending their K/V to `cache`; returns the final-norm output [n, hidden].
 */
export function decode(w: TextWeights, cfg: TextConfig, x: F32, positionIds: Int32Array, cache: KvCache, opts: DecodeOptions = {}): F32 {
  const n = x.shape[0];
  const cs = mropeCosSin(positionIds, n, cfg);
  using cos = Tensor.from<'float32'>(cs.cos, [n, cfg.headDim / 2]);
  using sin = Tensor.from<'float32'>(cs.sin, [n, cfg.headDim / 2]);
  cache.reserve(n);
  opts.trace?.('text.inputs_embeds', x);
  w.layers.forEach((lw, i) => {
    layer(x, lw, cfg, cos, sin, cache, i);
    opts.trace?.(`text.layer_out.${i}`, x);
    opts.onLayer?.(i, x);
  });
  cache.length += n;
  const out = rmsnorm(x, w.norm, cfg.rmsNormEps);
  opts.trace?.('text.final_norm_out', out);
  return out;
}

/** lm_head over rows [from, from + count) of the final-norm output: [count, vocab]. */
export function lmHead(w: TextWeights, normed: F32, from = 0, count = normed.shape[0] - from): F32 {
  const hidden = normed.shape[1];
  using rows = normed.view([count, hidden], from * hidden);
  return linear(rows, w.lmHead);
}
