// The Qwen2.5-VL text decoder (Qwen2 layers with M-RoPE): token embeddings with image rows
// substituted, pre-norm GQA attention with q/k/v biases, SwiGLU MLP, final RMSNorm, lm_head.
// Every forward goes through the KV cache: a full forward is a prefill into a fresh cache.
import { attention, rope, scatterRows } from '../ops/attention.js';
import { embedding, linear, linears, rmsnorm, swiglu } from '../ops/basic.js';
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
  using idsT = Tensor.from<'int32'>(ids, [ids.length], { device: w.embed.device });
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

/**
 * Rows [start, start + count) of a decode batch: one sequence with its own KV cache. A prefill
 * is one segment of many rows; a batched decode step is one single-row segment per sequence.
 */
export interface Segment {
  cache: KvCache;
  start: number;
  count: number;
}

/** Copies rows [start, start + dst.shape[0]) of `src` [N, ...] into `dst`. */
function copyRows(dst: F32, src: F32, start: number): void {
  using rows = src.view(dst.shape, start * (src.size / src.shape[0]));
  native().copy(dst.handle, rows.handle);
}

/** Causal GQA attention of each segment's queries over its cache → [N, heads, head_dim]. */
function segmentAttention(q: F32, segments: readonly Segment[], i: number, cfg: TextConfig): F32 {
  const rowSize = cfg.numHeads * cfg.headDim;
  const out = Tensor.empty(q.shape, { device: q.device });
  try {
    for (const seg of segments) {
      const shape = [seg.count, cfg.numHeads, cfg.headDim];
      using qs = q.view(shape, seg.start * rowSize);
      using dst = out.view(shape, seg.start * rowSize);
      const kv = seg.cache.prefix(i, seg.cache.length + seg.count);
      try {
        // Causal with the queries aligned to the end of the keys (bottom-right).
        attention(qs, kv.k, kv.v, { causal: true, out: dst });
      } finally {
        kv.k.dispose();
        kv.v.dispose();
      }
    }
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  }
}

function layer(x: F32, w: DecoderLayerWeights, cfg: TextConfig, cos: F32, sin: F32, segments: readonly Segment[], i: number): void {
  const n = x.shape[0];
  {
    using h = rmsnorm(x, w.inputNorm, cfg.rmsNormEps);
    using qkv = linears(h, [w.q.weight, w.k.weight, w.v.weight], [w.q.bias, w.k.bias, w.v.bias]);
    const [q0, k0, v0] = qkv;
    using q3 = q0.reshape([n, cfg.numHeads, cfg.headDim]);
    using k3 = k0.reshape([n, cfg.numKvHeads, cfg.headDim]);
    using v3 = v0.reshape([n, cfg.numKvHeads, cfg.headDim]);
    rope(q3, cos, sin, { inPlace: true });
    rope(k3, cos, sin, { inPlace: true });
    // Each sequence's new K (rotated) and V rows go into its cache after what it holds.
    for (const seg of segments) {
      const slot = seg.cache.slot(i, seg.count);
      try {
        copyRows(slot.k, k3, seg.start);
        copyRows(slot.v, v3, seg.start);
      } finally {
        slot.k.dispose();
        slot.v.dispose();
      }
    }
    using a = segmentAttention(q3, segments, i, cfg);
    using a2 = a.reshape([n, cfg.numHeads * cfg.headDim]);
    addLinear(x, a2, w.o);
  }
  using h = rmsnorm(x, w.postNorm, cfg.rmsNormEps);
  using gateUp = linears(h, [w.gate.weight, w.up.weight]);
  const [g, u] = gateUp;
  using s = swiglu(g, u);
  addLinear(x, s, w.down);
}

export interface DecodeOptions {
  trace?: Trace;
  /** Called with the residual stream after each layer (before the final norm for the last). */
  onLayer?: (i: number, x: F32) => void;
}

/** Segments must tile the rows in order, each with a distinct cache. */
function checkSegments(segments: readonly Segment[], n: number): void {
  let next = 0;
  const caches = new Set<KvCache>();
  for (const seg of segments) {
    if (seg.start !== next || seg.count < 1) throw new RangeError(`decode: segment at row ${seg.start} (${seg.count} rows) does not continue at row ${next}`);
    if (caches.has(seg.cache)) throw new Error('decode: the same KV cache (session) appears twice in one batch');
    caches.add(seg.cache);
    next += seg.count;
  }
  if (next !== n) throw new RangeError(`decode: segments cover ${next} rows, the batch has ${n}`);
}

/**
 * Runs every layer over `x` [n, hidden] (updated in place: the residual stream) at the given
 * 3×n positions, appending each segment's K/V to its cache; returns the final-norm output.
 */
export function decode(w: TextWeights, cfg: TextConfig, x: F32, positionIds: Int32Array, segments: readonly Segment[], opts: DecodeOptions = {}): F32 {
  const n = x.shape[0];
  checkSegments(segments, n);
  const cs = mropeCosSin(positionIds, n, cfg);
  using cos = Tensor.from<'float32'>(cs.cos, [n, cfg.headDim / 2], { device: x.device });
  using sin = Tensor.from<'float32'>(cs.sin, [n, cfg.headDim / 2], { device: x.device });
  for (const seg of segments) seg.cache.reserve(seg.count);
  opts.trace?.('text.inputs_embeds', x);
  w.layers.forEach((lw, i) => {
    layer(x, lw, cfg, cos, sin, segments, i);
    opts.trace?.(`text.layer_out.${i}`, x);
    opts.onLayer?.(i, x);
  });
  for (const seg of segments) seg.cache.length += seg.count;
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
