// The Qwen2.5-VL vision tower: patch embedding → blocks on rows in window order (windowed
// attention, full attention at fullatt_block_indexes) → patch merger → rows back in raster
// order. Index bookkeeping lives in vision-layout.ts; this file only runs ops.
import { attention, gatherRows, gelu, rope } from '../ops/attention.js';
import { linear, rmsnorm, swiglu } from '../ops/basic.js';
import { Tensor, disposeAll } from '../tensor.js';
import type { VisionConfig } from './config.js';
import { addLinear } from './residual.js';
import type { Grid } from './rope-index.js';
import { cosSinOf, expandGroups, inversePermutation, rotaryAngles, windowLayout } from './vision-layout.js';
import type { F32, VisionBlockWeights, VisionWeights } from './weights.js';

/** HF's vision RMSNorms use a fixed eps, not the config's rms_norm_eps. */
const VISION_NORM_EPS = 1e-6;

/** Receives intermediate tensors by golden-reference name (debugging and tests). */
export type Trace = (name: string, t: F32) => void;

function block(x: F32, w: VisionBlockWeights, cfg: VisionConfig, cos: F32, sin: F32, cuSeqlens: Int32Array): void {
  const n = x.shape[0];
  const shape = [n, cfg.numHeads, cfg.headDim];
  {
    using h = rmsnorm(x, w.norm1, VISION_NORM_EPS);
    // Linear outputs [n, hidden] viewed as [n, heads, head_dim] for rope and attention.
    using q0 = linear(h, w.q.weight, w.q.bias);
    using k0 = linear(h, w.k.weight, w.k.bias);
    using v0 = linear(h, w.v.weight, w.v.bias);
    using q3 = q0.reshape(shape);
    using k3 = k0.reshape(shape);
    using v = v0.reshape(shape);
    const q = rope(q3, cos, sin, { inPlace: true });
    const k = rope(k3, cos, sin, { inPlace: true });
    using a = attention(q, k, v, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens });
    using a2 = a.reshape([n, cfg.hiddenSize]);
    addLinear(x, a2, w.proj);
  }
  using h = rmsnorm(x, w.norm2, VISION_NORM_EPS);
  using g = linear(h, w.gate.weight, w.gate.bias);
  using u = linear(h, w.up.weight, w.up.bias);
  using s = swiglu(g, u);
  addLinear(x, s, w.down);
}

/**
 * Encodes `pixels` [patches, C·T·P·P] (processor row order) of the images in `grids` into
 * [patches / merge², out_hidden] rows in raster order: the rows for the <|image_pad|> tokens.
 */
export function encodeImages(w: VisionWeights, cfg: VisionConfig, pixels: F32, grids: readonly Grid[], trace?: Trace): F32 {
  const unit = cfg.spatialMergeSize * cfg.spatialMergeSize;
  const n = pixels.shape[0];
  const layout = windowLayout(grids, cfg);
  const toWindowOrder = expandGroups(layout.windowIndex, unit);

  // Rotary tables permuted into window order like the hidden rows.
  const angles = rotaryAngles(grids, cfg);
  const half = cfg.headDim / 2;
  const permuted = new Float32Array(angles.length);
  toWindowOrder.forEach((src, dst) => permuted.set(angles.subarray(src * half, (src + 1) * half), dst * half));
  const cs = cosSinOf(permuted);
  using cos = Tensor.from<'float32'>(cs.cos, [n, half], { device: w.patchEmbed.device });
  using sin = Tensor.from<'float32'>(cs.sin, [n, half], { device: w.patchEmbed.device });

  let x: F32;
  {
    using embedded = linear(pixels, w.patchEmbed);
    trace?.('vision.patch_embed_out', embedded);
    x = gatherRows(embedded, toWindowOrder);
  }
  try {
    const full = new Set(cfg.fullattBlockIndexes);
    w.blocks.forEach((bw, j) => {
      block(x, bw, cfg, cos, sin, full.has(j) ? layout.cuSeqlens : layout.cuWindowSeqlens);
      trace?.(`vision.block_out.${j}`, x);
    });
    using normed = rmsnorm(x, w.mergerNorm, VISION_NORM_EPS);
    using grouped = normed.reshape([n / unit, unit * cfg.hiddenSize]);
    using h1 = linear(grouped, w.mergerFc1.weight, w.mergerFc1.bias);
    using act = gelu(h1);
    using merged = linear(act, w.mergerFc2.weight, w.mergerFc2.bias);
    trace?.('vision.merger_out_window_order', merged);
    const out = gatherRows(merged, inversePermutation(layout.windowIndex));
    trace?.('vision.output', out);
    return out;
  } finally {
    disposeAll(x);
  }
}
