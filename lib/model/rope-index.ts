// Multimodal rotary positions of the text decoder (HF `get_rope_index`) and the M-RoPE cos/sin
// table. Text tokens get equal (t, h, w) positions; each image's tokens get t = p0 and
// h/w = p0 + row/column in merged units, where p0 follows the last text position; the text
// after an image resumes at max(all positions so far) + 1.

/** One image's grid in 14-pixel patches (before the spatial merge). */
export interface Grid {
  t: number;
  h: number;
  w: number;
}

export interface RopeIndex {
  /** [3, seq] row-major: rows t, h, w. */
  positionIds: Int32Array;
  /** max(position) + 1 - seq: added to the cache length to position decode tokens. */
  ropeDeltas: number;
}

/** Number of `<|image_pad|>` tokens one image occupies. */
export function mergedTokens(g: Grid, spatialMergeSize: number): number {
  return (g.t * g.h * g.w) / (spatialMergeSize * spatialMergeSize);
}

/**
 * `get_rope_index` for images. Each image must be one contiguous run of `imageTokenId`
 * tokens of the length its grid implies (inputs are validated before this is called).
 */
export function getRopeIndex(
  inputIds: ArrayLike<number>,
  grids: readonly Grid[],
  opts: { imageTokenId: number; spatialMergeSize: number },
): RopeIndex {
  const seq = inputIds.length;
  const pos = new Int32Array(3 * seq);
  const m = opts.spatialMergeSize;
  let next = 0;  // the position the next text token gets
  let i = 0;
  let image = 0;
  while (i < seq) {
    if (inputIds[i] !== opts.imageTokenId) {
      pos[i] = pos[seq + i] = pos[2 * seq + i] = next++;
      i++;
      continue;
    }
    const g = grids[image];
    if (!g) throw new Error(`get_rope_index: <|image_pad|> run at token ${i} has no image grid (only ${grids.length} given)`);
    const gh = g.h / m, gw = g.w / m;
    const count = g.t * gh * gw;
    const p0 = next;
    let max = p0 - 1;
    for (let k = 0; k < count; k++, i++) {
      if (i >= seq || inputIds[i] !== opts.imageTokenId) {
        throw new Error(`get_rope_index: image ${image} needs ${count} consecutive <|image_pad|> tokens, the run starting at token ${i - k} is shorter`);
      }
      // Images have t = p0 for every frame (no temporal spacing; videos are not supported here).
      const hw = k % (gh * gw);
      const h = p0 + Math.floor(hw / gw), w = p0 + (hw % gw);
      pos[i] = p0;
      pos[seq + i] = h;
      pos[2 * seq + i] = w;
      max = Math.max(max, p0, h, w);
    }
    next = max + 1;
    image++;
  }
  if (image !== grids.length) throw new Error(`get_rope_index: ${grids.length} image grids given but the prompt has ${image} <|image_pad|> runs`);
  return { positionIds: pos, ropeDeltas: next - seq };
}

/** Positions (equal on all three rows) of `count` decode tokens after `pastLength` cached ones. */
export function decodePositionIds(pastLength: number, count: number, ropeDeltas: number): Int32Array {
  const pos = new Int32Array(3 * count);
  for (let r = 0; r < 3; r++) for (let k = 0; k < count; k++) pos[r * count + k] = pastLength + k + ropeDeltas;
  return pos;
}

/** HF's float32 inverse frequencies 1/base^(2i/dim), i < dim/2. */
export function inverseFrequencies(dim: number, base: number): Float32Array {
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = 1 / Math.fround(Math.pow(base, Math.fround((2 * i) / dim)));
  return inv;
}

export interface CosSin {
  /** [seq, headDim/2] row-major; used with rotate-half over the full head_dim. */
  cos: Float32Array;
  sin: Float32Array;
}

/**
 * M-RoPE table: frequency j of the head_dim/2 takes its angle from position row k (t, h, w)
 * where j falls in the k-th chunk of `mropeSection`. (HF splits cat(freqs, freqs) by
 * mrope_section*2, which gives the same choice for both halves.)
 */
export function mropeCosSin(
  positionIds: Int32Array,
  seq: number,
  opts: { headDim: number; ropeTheta: number; mropeSection: readonly number[] },
): CosSin {
  const half = opts.headDim / 2;
  const inv = inverseFrequencies(opts.headDim, opts.ropeTheta);
  const rowOf = new Int32Array(half);
  let j = 0;
  opts.mropeSection.forEach((n, k) => { for (let c = 0; c < n; c++) rowOf[j++] = k; });
  const cos = new Float32Array(seq * half), sin = new Float32Array(seq * half);
  for (let t = 0; t < seq; t++) {
    for (let f = 0; f < half; f++) {
      const angle = Math.fround(inv[f] * positionIds[rowOf[f] * seq + t]);
      cos[t * half + f] = Math.cos(angle);
      sin[t * half + f] = Math.sin(angle);
    }
  }
  return { cos, sin };
}
