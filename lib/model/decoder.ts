// The Qwen2.5-VL text decoder (Qwen2 layers with M-RoPE): token embeddings with image rows
// substituted, pre-norm GQA attention with q/k/v biases, SwiGLU MLP, final RMSNorm, lm_head.
// Every forward goes through the KV cache: a full forward is a prefill into a fresh cache.
import { attention, replaceRows, rope } from '../ops/attention.js';
import { embedding, linearToArray, rmsnorm, swiglu } from '../ops/basic.js';
import { reshape } from '../ops/shape.js';
import { native } from '../native.js';
import { recordingTape } from '../tape.js';
import { Tensor, TensorScope, disposeAll, type Device } from '../tensor.js';
import type { TextConfig } from './config.js';
import type { KvCache } from './kv-cache.js';
import { projections } from './projection.js';
import { residual } from './residual.js';
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
  if (!image || image.positions.length === 0) return x;
  try {
    return replaceRows(x, image.positions, image.rows);
  } finally {
    x.dispose();
  }
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

/**
 * The activations of one layer over n rows, reused by every layer of a decode call and, kept by
 * the model, by every decode step of the same batch size: at one token a step, creating ~10
 * tensors and ~12 views per layer cost about as much as the small ops they feed.
 */
export class DecodeBuffers implements Disposable {
  /** RMSNorm output [n, hidden] (attention input, then MLP input). */
  readonly normed: F32;
  /** q, k, v projections [n, heads·headDim], and the same memory as [n, heads, headDim]. */
  readonly qkv: F32[];
  readonly q3: F32;
  readonly k3: F32;
  readonly v3: F32;
  /** Attention output [n, heads, headDim] and as [n, heads·headDim] for o_proj. */
  readonly attn: F32;
  readonly attnRows: F32;
  /** gate and up projections [n, intermediate], and silu(gate)·up. */
  readonly gateUp: F32[];
  readonly act: F32;
  /** Every tensor above (an op that wrote into one of them did not make a new tensor). */
  readonly tensors: ReadonlySet<F32>;
  readonly #all: F32[];

  constructor(readonly rows: number, cfg: TextConfig, device: Device) {
    const n = rows, hd = cfg.headDim;
    const make = (shape: number[]) => Tensor.empty(shape, { device });
    const all: F32[] = [];
    const keep = (t: F32) => (all.push(t), t);
    try {
      this.normed = keep(make([n, cfg.hiddenSize]));
      this.qkv = [cfg.numHeads, cfg.numKvHeads, cfg.numKvHeads].map((h) => keep(make([n, h * hd])));
      this.q3 = keep(this.qkv[0].reshape([n, cfg.numHeads, hd]));
      this.k3 = keep(this.qkv[1].reshape([n, cfg.numKvHeads, hd]));
      this.v3 = keep(this.qkv[2].reshape([n, cfg.numKvHeads, hd]));
      this.attn = keep(make([n, cfg.numHeads, hd]));
      this.attnRows = keep(this.attn.reshape([n, cfg.numHeads * hd]));
      this.gateUp = [keep(make([n, cfg.intermediateSize])), keep(make([n, cfg.intermediateSize]))];
      this.act = keep(make([n, cfg.intermediateSize]));
    } catch (e) {
      disposeAll(all);
      throw e;
    }
    this.#all = all;
    this.tensors = new Set(all);
  }

  dispose(): void {
    disposeAll(this.#all);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** `rows` [count, ...] of `t` from row `start` on: `t` itself when that is all of it, else a view. */
function rowsOf(t: F32, start: number, count: number): { rows: F32; dispose(): void } {
  if (start === 0 && count === t.shape[0]) return { rows: t, dispose() {} };
  const rows = t.view([count, ...t.shape.slice(1)], start * (t.size / t.shape[0]));
  return { rows, dispose: () => rows.dispose() };
}

/** Writes each segment's new K (rotated) and V rows into its cache after what it holds. */
function appendToCaches(k3: F32, v3: F32, segments: readonly Segment[], i: number): void {
  for (const seg of segments) {
    const slot = seg.cache.slot(i, seg.count);
    const k = rowsOf(k3, seg.start, seg.count), v = rowsOf(v3, seg.start, seg.count);
    try {
      native().copy(slot.k.handle, k.rows.handle);
      native().copy(slot.v.handle, v.rows.handle);
    } finally {
      k.dispose();
      v.dispose();
      slot.k.dispose();
      slot.v.dispose();
    }
  }
}

/** Causal GQA attention of each segment's queries over its cache, into `out`. */
function segmentAttention(q3: F32, out: F32, segments: readonly Segment[], i: number): void {
  for (const seg of segments) {
    const q = rowsOf(q3, seg.start, seg.count), o = rowsOf(out, seg.start, seg.count);
    const kv = seg.cache.prefix(i, seg.cache.length + seg.count);
    try {
      // Causal with the queries aligned to the end of the keys (bottom-right).
      attention(q.rows, kv.k, kv.v, { causal: true, out: o.rows });
    } finally {
      q.dispose();
      o.dispose();
      kv.k.dispose();
      kv.v.dispose();
    }
  }
}

/**
 * How a decoder layer runs. Inference: activations go into reused `buffers`, rotary and residual
 * updates happen in place, and attention reads the KV caches. Training: every op makes a new
 * tensor (so a gradient tape can keep what backward needs) and attention reads the layer's own
 * keys. The layer's maths is written once, in decoderLayer.
 */
export interface LayerPlan {
  buffers?: DecodeBuffers;
  /** Training: keep only each layer's input and recompute the layer during backward. */
  checkpointLayers?: boolean;
  /** Attention of rotated q [n, Hq, D] over rotated k and v [n, Hkv, D] of layer `i`. */
  attend(q: F32, k: F32, v: F32, i: number, out?: F32): F32;
}

/** The inference plan: buffers reused, K/V appended to each segment's cache, attention over it. */
export function cachePlan(buffers: DecodeBuffers, segments: readonly Segment[]): LayerPlan {
  return {
    buffers,
    attend(q, k, v, i, out) {
      appendToCaches(k, v, segments, i);
      segmentAttention(q, out!, segments, i);
      return out!;
    },
  };
}

/**
 * The training plan: causal attention within each packed sequence (`cuSeqlens`: row boundaries
 * of the sequences packed into the batch), no cache.
 */
export function packedPlan(cuSeqlens: Int32Array, opts: { checkpointLayers?: boolean } = {}): LayerPlan {
  return {
    attend: (q, k, v) => attention(q, k, v, { causal: true, cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens }),
    checkpointLayers: opts.checkpointLayers,
  };
}

/** A decoder layer's tensors (what activation checkpointing lists as the layer's parameters). */
function layerTensors(w: DecoderLayerWeights): Tensor[] {
  return [w.inputNorm, w.postNorm, ...[w.q, w.k, w.v, w.o, w.gate, w.up, w.down].flatMap((l) => (l.bias ? [l.weight, l.bias] : [l.weight]))];
}

/** One Qwen2 decoder layer over the residual stream x [n, hidden]; returns the new stream (x itself in place). */
export function decoderLayer(x: F32, w: DecoderLayerWeights, cfg: TextConfig, cos: F32, sin: F32, i: number, plan: LayerPlan): F32 {
  const b = plan.buffers;
  const n = x.shape[0], hd = cfg.headDim;
  const inPlace = b !== undefined;
  using s = new TensorScope(b?.tensors);
  const h1 = s.use(rmsnorm(x, w.inputNorm, cfg.rmsNormEps, { out: b?.normed }));
  const [q, k, v] = s.useAll(projections(h1, [w.q, w.k, w.v], b?.qkv));
  const q3 = b?.q3 ?? s.use(reshape(q, [n, cfg.numHeads, hd]));
  const k3 = b?.k3 ?? s.use(reshape(k, [n, cfg.numKvHeads, hd]));
  const v3 = b?.v3 ?? s.use(reshape(v, [n, cfg.numKvHeads, hd]));
  const qr = s.use(rope(q3, cos, sin, { inPlace }));
  const kr = s.use(rope(k3, cos, sin, { inPlace }));
  const a = s.use(plan.attend(qr, kr, v3, i, b?.attn));
  const aRows = b?.attnRows ?? s.use(reshape(a, [n, cfg.numHeads * hd]));
  const x1 = residual(x, aRows, w.o, inPlace);
  if (x1 !== x) s.use(x1);
  const h2 = s.use(rmsnorm(x1, w.postNorm, cfg.rmsNormEps, { out: b?.normed }));
  const [g, u] = s.useAll(projections(h2, [w.gate, w.up], b?.gateUp));
  const act = s.use(swiglu(g, u, b?.act));
  return residual(x1, act, w.down, inPlace);
}

export interface DecodeOptions {
  trace?: Trace;
  /** Activation buffers for x's rows to reuse (see DecodeBuffers); else made for this call. */
  buffers?: DecodeBuffers;
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
  for (const seg of segments) seg.cache.reserve(seg.count);
  if (opts.buffers && opts.buffers.rows !== n) throw new RangeError(`decode: buffers for ${opts.buffers.rows} rows given for ${n} rows`);
  using own = opts.buffers ? undefined : new DecodeBuffers(n, cfg, x.device);
  const normed = runLayers(w, cfg, x, positionIds, cachePlan(opts.buffers ?? own!, segments), opts);
  for (const seg of segments) seg.cache.length += seg.count;
  return normed;
}

/**
 * Every layer over the residual stream `x` [n, hidden] at the given 3×n M-RoPE positions, then
 * the final norm (returned). In place on `x` under the cache plan; under the packed (training)
 * plan `x` is left as it is and each layer makes a new stream.
 */
export function runLayers(w: TextWeights, cfg: TextConfig, x: F32, positionIds: Int32Array, plan: LayerPlan, opts: DecodeOptions = {}): F32 {
  const n = x.shape[0];
  const cs = mropeCosSin(positionIds, n, cfg);
  using cos = Tensor.from<'float32'>(cs.cos, [n, cfg.headDim / 2], { device: x.device });
  using sin = Tensor.from<'float32'>(cs.sin, [n, cfg.headDim / 2], { device: x.device });
  opts.trace?.('text.inputs_embeds', x);
  let h = x;
  try {
    const tape = plan.checkpointLayers ? recordingTape() : undefined;
    w.layers.forEach((lw, i) => {
      const next = tape
        ? tape.checkpoint((x0, c, s) => decoderLayer(x0 as F32, lw, cfg, c as F32, s as F32, i, plan), [h, cos, sin], layerTensors(lw))
        : decoderLayer(h, lw, cfg, cos, sin, i, plan);
      if (h !== x && next !== h) h.dispose();
      h = next;
      opts.trace?.(`text.layer_out.${i}`, h);
      opts.onLayer?.(i, h);
    });
    const out = rmsnorm(h, w.norm, cfg.rmsNormEps);
    opts.trace?.('text.final_norm_out', out);
    return out;
  } finally {
    if (h !== x) h.dispose();
  }
}

/** lm_head over rows [from, from + count) of the final-norm output: logits [count, vocab]. */
export function lmHeadLogits(w: TextWeights, normed: F32, from = 0, count = normed.shape[0] - from): Float32Array {
  using rows = normed.view([count, normed.shape[1]], from * normed.shape[1]);
  return linearToArray(rows, w.lmHead);
}
