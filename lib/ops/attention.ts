// Attention and what the model builds around it: rotary embedding, row gather/scatter, GELU.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';
import { embedding } from './basic.js';

type F32 = Tensor<'float32'>;

const ops = native;

function produce(out: F32, fn: () => void): F32 {
  try {
    fn();
    return out;
  } catch (e) {
    out.dispose();
    throw e;
  }
}

export interface AttentionOptions {
  /** Bottom-right aligned causal mask: query i of a sequence sees keys j <= i + (lenK − lenQ). */
  causal?: boolean;
  /** Packed variable-length sequences: boundaries of each sequence's queries and keys. */
  cuSeqlensQ?: Int32Array;
  cuSeqlensK?: Int32Array;
  /** Score scale; default 1/√headDim. */
  scale?: number;
  /** Receives the log-sum-exp of each query row's scaled scores, [Hq, Tq] float32. */
  lse?: F32;
  /** Written instead of a new tensor: [Tq, Hq, D] float32 (a view into a larger tensor works). */
  out?: F32;
}

/**
 * softmax(q·kᵀ·scale)·v per head, flash style (no Tq×Tk matrix is stored).
 * q [Tq, Hq, D], k and v [Tk, Hkv, D] with Hq a multiple of Hkv (grouped-query attention).
 */
export function attention(q: F32, k: F32, v: F32, opts: AttentionOptions = {}): F32 {
  const run = (out: F32) => ops().attention(q.handle, k.handle, v.handle, out.handle, {
    causal: opts.causal ?? false,
    scale: opts.scale,
    cuSeqlensQ: opts.cuSeqlensQ,
    cuSeqlensK: opts.cuSeqlensK,
    lse: opts.lse?.handle,
  });
  if (opts.out) {
    run(opts.out);
    return opts.out;
  }
  const out = Tensor.empty(q.shape, { dtype: 'float32', device: q.device });
  return produce(out, () => run(out));
}

/** The options attention's forward took (what its backward needs of them). */
export type AttentionBackwardOptions = Pick<AttentionOptions, 'causal' | 'cuSeqlensQ' | 'cuSeqlensK' | 'scale'>;

/**
 * Gradients of `attention` with respect to q, k and v, flash style: the probabilities are
 * recomputed block by block from the forward's log-sum-exp, no Tq×Tk matrix is stored.
 * `out` and `lse` are what `attention(q, k, v, { lse, ...opts })` produced, `dout` [Tq, Hq, D]
 * the gradient of `out`, `opts` the forward's options. Rows that saw no key get zero gradients.
 * Returns new tensors dq [Tq, Hq, D] and dk, dv [Tk, Hkv, D] (on q's device).
 */
export function attentionBackward(q: F32, k: F32, v: F32, out: F32, lse: F32, dout: F32,
  opts: AttentionBackwardOptions = {}): { dq: F32; dk: F32; dv: F32 } {
  const dq = Tensor.empty(q.shape, { dtype: 'float32', device: q.device });
  const dk = Tensor.empty(k.shape, { dtype: 'float32', device: k.device });
  const dv = Tensor.empty(v.shape, { dtype: 'float32', device: v.device });
  try {
    ops().attentionBackward(q.handle, k.handle, v.handle, out.handle, lse.handle, dout.handle, dq.handle, dk.handle, dv.handle, {
      causal: opts.causal ?? false,
      scale: opts.scale,
      cuSeqlensQ: opts.cuSeqlensQ,
      cuSeqlensK: opts.cuSeqlensK,
    });
  } catch (e) {
    [dq, dk, dv].forEach((t) => t.dispose());
    throw e;
  }
  return { dq, dk, dv };
}

/** Rotate-half rotary embedding of x [T, H, D] with per-position cos/sin [T, D/2]. */
export function rope(x: F32, cos: F32, sin: F32, opts: { inPlace?: boolean } = {}): F32 {
  if (opts.inPlace) {
    ops().rope(x.handle, cos.handle, sin.handle, x.handle);
    return x;
  }
  const out = Tensor.empty(x.shape, { dtype: 'float32', device: x.device });
  return produce(out, () => ops().rope(x.handle, cos.handle, sin.handle, out.handle));
}

/** Gradient of rope (the rotation by −angle): dx for upstream dy [T, H, D], same cos/sin. */
export function ropeBackward(dy: F32, cos: F32, sin: F32): F32 {
  const dx = Tensor.empty(dy.shape, { dtype: 'float32', device: dy.device });
  return produce(dx, () => ops().ropeBackward(dy.handle, cos.handle, sin.handle, dx.handle));
}

/** Rows of x [N, d] picked by `idx` → [idx.length, d] (the embedding gather on a float32 table; its gradient is embeddingBackward). */
export function gatherRows(x: F32, idx: Int32Array): F32 {
  using ids = Tensor.from<'int32'>(idx, [idx.length], { device: x.device });
  return embedding(ids, x);
}

/** dst[idx[i], :] = src[i, :], in place. */
export function scatterRows(dst: F32, idx: Int32Array, src: F32): void {
  ops().scatterRows(dst.handle, idx, src.handle);
}

/** Gradient of the exact GELU: dx = dy·(Φ(x) + x·φ(x)). */
export function geluBackward(dy: F32, x: F32): F32 {
  const dx = Tensor.empty(x.shape, { dtype: 'float32', device: x.device });
  return produce(dx, () => ops().geluBackward(dy.handle, x.handle, dx.handle));
}

/** GELU (exact erf form). */
export function gelu(x: F32): F32 {
  const out = Tensor.empty(x.shape, { dtype: 'float32', device: x.device });
  return produce(out, () => ops().gelu(x.handle, out.handle));
}
