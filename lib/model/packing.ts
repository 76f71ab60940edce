// What both forwards start from: the token embeddings of one or more sequences packed row after
// row, with each image's vision-tower rows in place of its <|image_pad|> tokens, and their M-RoPE
// positions. Inference prefills one sequence; training packs a batch (attention then stays
// within each sequence through `cuSeqlens`).
import { Tensor } from '../tensor.js';
import type { ModelConfig } from './config.js';
import { embedTokens } from './decoder.js';
import type { CheckedInputs } from './inputs.js';
import { getRopeIndex } from './rope-index.js';
import { encodeImages, type Trace } from './vision.js';
import type { F32, ModelWeights } from './weights.js';

export interface PackedEmbeddings {
  /** [rows, hidden]: every sequence's embeddings, one after the other (the caller disposes). */
  x: F32;
  /** [3, rows] row-major (t, h, w), each sequence's own positions. */
  positionIds: Int32Array;
  /** Per sequence: HF rope_deltas (added to the cache length when decoding after it). */
  ropeDeltas: number[];
  /** Row boundaries of the sequences [count + 1]. */
  cuSeqlens: Int32Array;
  /** Vision tower output [image tokens, hidden] in prompt order, when there are images (trace/debug copy). */
  imageEmbeds?: Float32Array;
}

/** Pixel rows of several inputs as one float32 tensor (the one input's own tensor when alone). */
function concatPixels(withImages: readonly CheckedInputs[], device: Tensor['device']): { t: F32; owned: boolean } {
  if (withImages.length === 1) return { t: withImages[0].pixels!, owned: false };
  const parts = withImages.map((c) => c.pixels!.toArray());
  const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, at), at += p.length;
  return { t: Tensor.from<'float32'>(all, [all.length / withImages[0].pixels!.shape[1], withImages[0].pixels!.shape[1]], { device }), owned: true };
}

export function embedPacked(w: ModelWeights, cfg: ModelConfig, inputs: readonly CheckedInputs[], opts: { trace?: Trace; keepImageEmbeds?: boolean } = {}): PackedEmbeddings {
  const rows = inputs.reduce((s, c) => s + c.ids.length, 0);
  const ids = new Int32Array(rows);
  const positionIds = new Int32Array(3 * rows);
  const cuSeqlens = new Int32Array(inputs.length + 1);
  const ropeDeltas: number[] = [];
  const imagePositions: number[] = [];
  inputs.forEach((c, s) => {
    const start = cuSeqlens[s], n = c.ids.length;
    cuSeqlens[s + 1] = start + n;
    ids.set(c.ids, start);
    const rope = getRopeIndex(c.ids, c.grids, { imageTokenId: cfg.tokens.image, spatialMergeSize: cfg.vision.spatialMergeSize });
    for (let r = 0; r < 3; r++) positionIds.set(rope.positionIds.subarray(r * n, (r + 1) * n), r * rows + start);
    ropeDeltas.push(rope.ropeDeltas);
    for (const p of c.imagePositions) imagePositions.push(start + p);
  });
  const withImages = inputs.filter((c) => c.pixels);
  if (withImages.length === 0) return { x: embedTokens(w.text, ids), positionIds, ropeDeltas, cuSeqlens };

  const pixels = concatPixels(withImages, w.device);
  let imageRows: F32;
  try {
    imageRows = encodeImages(w.vision, cfg.vision, pixels.t, withImages.flatMap((c) => c.grids), opts.trace);
  } finally {
    if (pixels.owned) pixels.t.dispose();
  }
  try {
    const imageEmbeds = opts.keepImageEmbeds ? imageRows.toArray() : undefined;
    const x = embedTokens(w.text, ids, { rows: imageRows, positions: Int32Array.from(imagePositions) });
    return { x, positionIds, ropeDeltas, cuSeqlens, imageEmbeds };
  } finally {
    imageRows.dispose();
  }
}
