// Checks and normalises what callers pass to the model, so that bad input becomes an Error
// that names the argument instead of a wrong answer or a native crash.
import { Tensor, type Device } from '../tensor.js';
import type { ModelConfig } from './config.js';
import { mergedTokens, type Grid } from './rope-index.js';
import type { F32 } from './weights.js';

export interface ModelInputs {
  /** Prompt token ids (image pads already expanded: one <|image_pad|> per merged patch). */
  inputIds: Int32Array | readonly number[];
  /** Processor output [patches, C·T·P·P] row-major (Float32Array or a float32 tensor). */
  pixelValues?: Float32Array | Tensor<'float32'>;
  /** One (t, h, w) per image, in patches: [[1, 14, 18], ...] or flat [1, 14, 18, ...]. */
  imageGridThw?: readonly (readonly number[])[] | readonly number[] | Int32Array;
}

export interface CheckedInputs {
  ids: Int32Array;
  grids: Grid[];
  /** Float32 tensor of the pixel rows on the model's device (owned when `ownsPixels`), absent without images. */
  pixels?: F32;
  ownsPixels: boolean;
  /** Indices of the <|image_pad|> tokens, in order. */
  imagePositions: Int32Array;
}

/** Token ids as Int32Array, each an integer in [0, vocab). */
export function checkTokenIds(ids: unknown, vocab: number, what = 'inputIds'): Int32Array {
  if (!(ids instanceof Int32Array) && !Array.isArray(ids)) throw new TypeError(`${what} must be an Int32Array or an array of token ids`);
  const arr = ids as ArrayLike<number>;
  if (arr.length === 0) throw new RangeError(`${what} is empty: the model needs at least one token`);
  const out = new Int32Array(arr.length);
  for (let i = 0; i < arr.length; i++) {
    const id = arr[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new RangeError(`${what}[${i}] = ${id} is not a token id in [0, ${vocab})`);
    out[i] = id;
  }
  return out;
}

function parseGrids(raw: ModelInputs['imageGridThw'], cfg: ModelConfig): Grid[] {
  if (raw === undefined) return [];
  const flat: number[] = [];
  for (const x of Array.from(raw as ArrayLike<unknown>)) {
    if (Array.isArray(x)) {
      if (x.length !== 3) throw new RangeError(`imageGridThw entries must be (t, h, w) triples, got [${x.join(', ')}]`);
      flat.push(...(x as number[]));
    } else flat.push(x as number);
  }
  if (flat.length % 3 !== 0) throw new RangeError(`imageGridThw must hold (t, h, w) triples, got ${flat.length} numbers`);
  const m = cfg.vision.spatialMergeSize;
  const grids: Grid[] = [];
  for (let i = 0; i < flat.length; i += 3) {
    const [t, h, w] = flat.slice(i, i + 3);
    if (![t, h, w].every((d) => Number.isInteger(d) && d > 0)) throw new RangeError(`imageGridThw[${i / 3}] = (${t}, ${h}, ${w}) must be positive integers`);
    if (h % m !== 0 || w % m !== 0) throw new RangeError(`imageGridThw[${i / 3}] = (${t}, ${h}, ${w}): h and w must be multiples of spatial_merge_size ${m}`);
    grids.push({ t, h, w });
  }
  return grids;
}

function pixelTensor(pv: NonNullable<ModelInputs['pixelValues']>, rows: number, rowSize: number, device: Device): { t: F32; owned: boolean } {
  const expected = `[${rows}, ${rowSize}] (sum of t·h·w over imageGridThw = ${rows} rows of C·T·P·P = ${rowSize})`;
  if (pv instanceof Tensor) {
    if (pv.dtype !== 'float32' || pv.shape.length !== 2 || pv.shape[0] !== rows || pv.shape[1] !== rowSize) {
      throw new RangeError(`pixelValues is ${pv.dtype} [${pv.shape.join(', ')}], expected float32 ${expected}`);
    }
    return pv.device === device ? { t: pv, owned: false } : { t: pv.to(device), owned: true };
  }
  if (!(pv instanceof Float32Array)) throw new TypeError('pixelValues must be a Float32Array or a float32 Tensor');
  if (pv.length !== rows * rowSize) throw new RangeError(`pixelValues has ${pv.length} values, expected ${expected} = ${rows * rowSize}`);
  return { t: Tensor.from<'float32'>(pv, [rows, rowSize], { device }), owned: true };
}

/** `device`: where the model runs (pixel rows are placed there). */
export function checkInputs(inputs: ModelInputs, cfg: ModelConfig, device: Device): CheckedInputs {
  if (typeof inputs !== 'object' || inputs === null) throw new TypeError('model inputs must be an object { inputIds, pixelValues?, imageGridThw? }');
  const ids = checkTokenIds(inputs.inputIds, cfg.text.vocabSize);
  if (ids.includes(cfg.tokens.video)) throw new Error(`inputIds contains the video token ${cfg.tokens.video}: video input is not supported`);
  const grids = parseGrids(inputs.imageGridThw, cfg);
  const positions: number[] = [];
  ids.forEach((id, i) => { if (id === cfg.tokens.image) positions.push(i); });
  const m = cfg.vision.spatialMergeSize;
  const features = grids.reduce((s, g) => s + mergedTokens(g, m), 0);
  if (positions.length !== features) {
    throw new Error(`inputIds has ${positions.length} image tokens (${cfg.tokens.image}) but imageGridThw gives ${features} image features (${grids.length} image(s))`);
  }
  if (grids.length === 0) {
    if (inputs.pixelValues !== undefined) throw new Error('pixelValues given without imageGridThw');
    return { ids, grids, ownsPixels: false, imagePositions: new Int32Array(0) };
  }
  if (inputs.pixelValues === undefined) throw new Error('imageGridThw given without pixelValues');
  const v = cfg.vision;
  const rows = grids.reduce((s, g) => s + g.t * g.h * g.w, 0);
  const { t, owned } = pixelTensor(inputs.pixelValues, rows, v.inChannels * v.temporalPatchSize * v.patchSize * v.patchSize, device);
  return { ids, grids, pixels: t, ownsPixels: owned, imagePositions: Int32Array.from(positions) };
}
