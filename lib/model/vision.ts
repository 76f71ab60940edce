// The Qwen2.5-VL vision tower: patch embedding → blocks on rows in window order (windowed
// attention, full attention at fullatt_block_indexes) → patch merger → rows back in raster
// order. Index bookkeeping lives in vision-layout.ts; this file only runs ops.
import { attention, gatherRows, gelu, rope } from '../ops/attention.js';
import { linear, rmsnorm, swiglu } from '../ops/basic.js';
import { reshape } from '../ops/shape.js';
import { recordingTape } from '../tape.js';
import { Tensor, TensorScope, disposeAll } from '../tensor.js';
import type { VisionConfig } from './config.js';
import { projection } from './projection.js';
import { residual } from './residual.js';
import type { Grid } from './rope-index.js';
import { cosSinOf, expandGroups, inversePermutation, rotaryAngles, windowLayout } from './vision-layout.js';
import type { F32, VisionBlockWeights, VisionWeights } from './weights.js';

/** HF's vision RMSNorms use a fixed eps, not the config's rms_norm_eps. */
const VISION_NORM_EPS = 1e-6;

/** Receives intermediate tensors by golden-reference name (debugging and tests). */
export type Trace = (name: string, t: F32) => void;

/**
 * One vision block over x [n, hidden]: windowed or full attention (per `cuSeqlens`), then the
 * SwiGLU MLP. `inPlace` (inference) rotates and adds to x in place and returns x; otherwise
 * (training, under a gradient tape) every op makes a new tensor and the new stream is returned.
 */
export function visionBlock(x: F32, w: VisionBlockWeights, cfg: VisionConfig, cos: F32, sin: F32, cuSeqlens: Int32Array, inPlace: boolean): F32 {
  const n = x.shape[0];
  const shape = [n, cfg.numHeads, cfg.headDim];
  using s = new TensorScope();
  const h = s.use(rmsnorm(x, w.norm1, VISION_NORM_EPS));
  // Linear outputs [n, hidden] viewed as [n, heads, head_dim] for rope and attention.
  const q = s.use(rope(s.use(reshape(s.use(projection(h, w.q)), shape)), cos, sin, { inPlace }));
  const k = s.use(rope(s.use(reshape(s.use(projection(h, w.k)), shape)), cos, sin, { inPlace }));
  const v = s.use(reshape(s.use(projection(h, w.v)), shape));
  const a = s.use(attention(q, k, v, { cuSeqlensQ: cuSeqlens, cuSeqlensK: cuSeqlens }));
  const x1 = residual(x, s.use(reshape(a, [n, cfg.hiddenSize])), w.proj, inPlace);
  if (x1 !== x) s.use(x1);
  const h2 = s.use(rmsnorm(x1, w.norm2, VISION_NORM_EPS));
  const g = s.use(projection(h2, w.gate));
  const u = s.use(projection(h2, w.up));
  return residual(x1, s.use(swiglu(g, u)), w.down, inPlace);
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
  // Under a gradient tape every op makes new tensors (nothing the tape keeps is overwritten).
  const inPlace = recordingTape() === undefined;
  try {
    const full = new Set(cfg.fullattBlockIndexes);
    w.blocks.forEach((bw, j) => {
      const next = visionBlock(x, bw, cfg, cos, sin, full.has(j) ? layout.cuSeqlens : layout.cuWindowSeqlens, inPlace);
      if (next !== x) x.dispose();
      x = next;
      trace?.(`vision.block_out.${j}`, x);
    });
    using normed = rmsnorm(x, w.mergerNorm, VISION_NORM_EPS);
    using grouped = reshape(normed, [n / unit, unit * cfg.hiddenSize]);
    using h1 = projection(grouped, w.mergerFc1);
    using act = gelu(h1);
    using merged = projection(act, w.mergerFc2);
    trace?.('vision.merger_out_window_order', merged);
    const out = gatherRows(merged, inversePermutation(layout.windowIndex));
    trace?.('vision.output', out);
    return out;
  } finally {
    disposeAll(x);
  }
}
