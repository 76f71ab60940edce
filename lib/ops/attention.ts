// Attention and what the model builds around it: rotary embedding, row gather/scatter, GELU.
import { native } from '../native.js';
import { recordingTape, refuseInPlace } from '../tape.js';
import { Tensor } from '../tensor.js';
import { embedding } from './basic.js';

type F32 = Tensor<'float32'>;

const ops = native;

function produce(out: F32, fn: (out: F32) => void): F32 {
  try {
    fn(out);
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
  refuseInPlace('attention', 'out', opts.out);
  const tape = recordingTape();
  const taped = tape && [q, k, v].some((t) => tape.needsGrad(t));
  // Backward recomputes the probabilities from each row's log-sum-exp: kept when a tape records.
  const lse = opts.lse ?? (taped ? Tensor.empty([q.shape[1], q.shape[0]], { device: q.device }) : undefined);
  const run = (out: F32) => ops().attention(q.handle, k.handle, v.handle, out.handle, {
    causal: opts.causal ?? false,
    scale: opts.scale,
    cuSeqlensQ: opts.cuSeqlensQ,
    cuSeqlensK: opts.cuSeqlensK,
    lse: lse?.handle,
  });
  try {
    if (opts.out) {
      run(opts.out);
      return opts.out;
    }
    const out = produce(Tensor.empty(q.shape, { dtype: 'float32', device: q.device }), (o) => run(o));
    tape?.record('attention', [q, k, v], [out], (save) => {
      const qs = save(q), ks = save(k), vs = save(v), os = save(out), ls = save(lse!);
      const bw = { causal: opts.causal, scale: opts.scale, cuSeqlensQ: opts.cuSeqlensQ, cuSeqlensK: opts.cuSeqlensK };
      return ([gy]) => {
        const { dq, dk, dv } = attentionBackward(qs, ks, vs, os, ls, gy!, bw);
        return [dq, dk, dv];
      };
    });
    return out;
  } finally {
    if (lse !== opts.lse) lse?.dispose();
  }
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
  refuseInPlace('rope', 'inPlace', opts.inPlace);
  if (opts.inPlace) {
    ops().rope(x.handle, cos.handle, sin.handle, x.handle);
    return x;
  }
  const out = produce(Tensor.empty(x.shape, { dtype: 'float32', device: x.device }), (o) => ops().rope(x.handle, cos.handle, sin.handle, o.handle));
  recordingTape()?.record('rope', [x], [out], (save) => {
    const c = save(cos), s = save(sin);
    return ([gy]) => [ropeBackward(gy!, c, s)];
  });
  return out;
}

/** Gradient of rope (the rotation by −angle): dx for upstream dy [T, H, D], same cos/sin. */
export function ropeBackward(dy: F32, cos: F32, sin: F32): F32 {
  const dx = Tensor.empty(dy.shape, { dtype: 'float32', device: dy.device });
  return produce(dx, (o) => ops().ropeBackward(dy.handle, cos.handle, sin.handle, o.handle));
}

/** Rows of x [N, d] picked by `idx` → [idx.length, d] (the embedding gather on a float32 table; its gradient is embeddingBackward). */
export function gatherRows(x: F32, idx: Int32Array): F32 {
  using ids = Tensor.from<'int32'>(idx, [idx.length], { device: x.device });
  return embedding(ids, x);
}

/** dst[idx[i], :] = src[i, :], in place. */
export function scatterRows(dst: F32, idx: Int32Array, src: F32): void {
  refuseInPlace('scatterRows', 'dst', dst);
  ops().scatterRows(dst.handle, idx, src.handle);
}

/**
 * A copy of x [N, d] with rows idx[i] replaced by src[i] (the image rows put in place of the
 * <|image_pad|> embeddings). Gradient: dx = dy with those rows zeroed, dsrc = dy's rows at idx.
 */
export function replaceRows(x: F32, idx: Int32Array, src: F32): F32 {
  const y = x.clone();
  try {
    ops().scatterRows(y.handle, idx, src.handle);
  } catch (e) {
    y.dispose();
    throw e;
  }
  recordingTape()?.record('replaceRows', [x, src], [y], () => ([gy]) => {
    const dx = gy!.clone();
    using zeros = Tensor.zeros([idx.length, x.shape[1]], { device: x.device });
    ops().scatterRows(dx.handle, idx, zeros.handle);
    return [dx, gatherRows(gy!, idx)];
  });
  return y;
}

/** Gradient of the exact GELU: dx = dy·(Φ(x) + x·φ(x)). */
export function geluBackward(dy: F32, x: F32): F32 {
  const dx = Tensor.empty(x.shape, { dtype: 'float32', device: x.device });
  return produce(dx, (o) => ops().geluBackward(dy.handle, x.handle, o.handle));
}

/** GELU (exact erf form). */
export function gelu(x: F32): F32 {
  const out = produce(Tensor.empty(x.shape, { dtype: 'float32', device: x.device }), (o) => ops().gelu(x.handle, o.handle));
  recordingTape()?.record('gelu', [x], [out], (save) => {
    const xs = save(x);
    return ([gy]) => [geluBackward(gy!, xs)];
  });
  return out;
}
