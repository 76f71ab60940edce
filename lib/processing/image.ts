// Qwen2-VL image preprocessing, as transformers' Qwen2VLImageProcessor does it: decode to RGB,
// smart_resize to multiples of patch·merge within [minPixels, maxPixels], Pillow-exact bicubic
// resize, rescale by 1/255, normalise with the CLIP mean/std (float32, as numpy computes it),
// repeat to temporal_patch_size frames and flatten into patches in merge-window order.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resizeBicubic } from '../ops/image.js';
import { decodeImage, describeImage, type ImageInput, type RgbImage } from './image-decode.js';
import type { ImageOptions } from './processor.js';

export type { ImageInput, RgbImage } from './image-decode.js';

export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

export interface ResolvedImageOptions {
  minPixels: number;
  maxPixels: number;
  patchSize: number;
  mergeSize: number;
  temporalPatchSize: number;
  imageMean: number[];
  imageStd: number[];
  rescaleFactor: number;
  upscaleSmallImages: boolean;
}

export const DEFAULT_IMAGE_OPTIONS: ResolvedImageOptions = {
  minPixels: 56 * 56,
  maxPixels: 28 * 28 * 1280,
  patchSize: 14,
  mergeSize: 2,
  temporalPatchSize: 2,
  imageMean: CLIP_MEAN,
  imageStd: CLIP_STD,
  rescaleFactor: 1 / 255,
  upscaleSmallImages: false,
};

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** transformers' smart_resize: [height, width] as multiples of `factor` within the pixel bounds. */
export function smartResize(height: number, width: number, factor = 28, minPixels = DEFAULT_IMAGE_OPTIONS.minPixels, maxPixels = DEFAULT_IMAGE_OPTIONS.maxPixels): [number, number] {
  if (height < factor || width < factor) throw new RangeError(`height:${height} or width:${width} must be larger than factor:${factor}`);
  if (Math.max(height, width) / Math.min(height, width) > 200) {
    throw new RangeError(`absolute aspect ratio must be smaller than 200, got ${Math.max(height, width) / Math.min(height, width)}`);
  }
  let h = roundHalfEven(height / factor) * factor;
  let w = roundHalfEven(width / factor) * factor;
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.floor(height / beta / factor) * factor;
    w = Math.floor(width / beta / factor) * factor;
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return [h, w];
}

export function resolveImageOptions(o: ImageOptions = {}): ResolvedImageOptions {
  const r = { ...DEFAULT_IMAGE_OPTIONS, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) } as ResolvedImageOptions;
  for (const k of ['minPixels', 'maxPixels', 'patchSize', 'mergeSize', 'temporalPatchSize'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new RangeError(`image option '${k}' must be a positive integer, got ${r[k]}`);
  }
  if (r.minPixels > r.maxPixels) throw new RangeError(`minPixels (${r.minPixels}) exceeds maxPixels (${r.maxPixels})`);
  if (r.imageMean.length !== 3 || r.imageStd.length !== 3) throw new RangeError('imageMean and imageStd need 3 values (R, G, B)');
  return r;
}

/** Reads preprocessor_config.json of a model folder (both the min/max_pixels and `size` spellings). */
export async function loadImageProcessorConfig(dir: string): Promise<ImageOptions> {
  const file = join(dir, 'preprocessor_config.json');
  if (!existsSync(file)) return {};
  let c: Record<string, unknown>;
  try {
    c = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const size = (c.size ?? {}) as Record<string, unknown>;
  const num = (v: unknown, field: string): number | undefined => {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number') throw new Error(`${file}: '${field}' must be a number`);
    return v;
  };
  const arr = (v: unknown, field: string): number[] | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'number')) throw new Error(`${file}: '${field}' must be an array of numbers`);
    return v as number[];
  };
  return {
    minPixels: num(c.min_pixels, 'min_pixels') ?? num(size.shortest_edge, 'size.shortest_edge'),
    maxPixels: num(c.max_pixels, 'max_pixels') ?? num(size.longest_edge, 'size.longest_edge'),
    patchSize: num(c.patch_size, 'patch_size'),
    mergeSize: num(c.merge_size, 'merge_size'),
    temporalPatchSize: num(c.temporal_patch_size, 'temporal_patch_size'),
    imageMean: arr(c.image_mean, 'image_mean'),
    imageStd: arr(c.image_std, 'image_std'),
  };
}

/**
 * Resizes an RGB image as the processor would (the uint8 stage before normalisation). An image
 * with a side below patch·merge is refused as transformers refuses it (the error names it and
 * the minimum), unless `upscaleSmallImages`: then its short side is first scaled up to the
 * minimum (aspect ratio kept) and one bicubic resize goes straight to the final grid size.
 */
export function resizeForModel(img: RgbImage, o: ResolvedImageOptions, name = 'image'): RgbImage {
  const factor = o.patchSize * o.mergeSize;
  let { height, width } = img;
  if (height < factor || width < factor) {
    if (!o.upscaleSmallImages) {
      throw new RangeError(`${name}: height:${height} or width:${width} must be larger than factor:${factor} ` +
        `(each side must be at least ${factor} pixels, patch ${o.patchSize} × merge ${o.mergeSize}); ` +
        'askImage and gmai infer/eval/serve upscale such images, or pass upscaleSmallImages: true');
    }
    const scale = factor / Math.min(height, width);
    height = Math.max(factor, Math.round(height * scale));
    width = Math.max(factor, Math.round(width * scale));
    // One line on stderr (also from the model worker, whose stderr is the process's).
    process.stderr.write(`gmai: ${name} is ${img.width}×${img.height} pixels, below the model's minimum side of ${factor}: upscaled to ${width}×${height}\n`);
  }
  const [h, w] = smartResize(height, width, factor, o.minPixels, o.maxPixels);
  return { width: w, height: h, data: resizeBicubic(img.data, img.height, img.width, 3, h, w) };
}

/**
 * Normalised patches [gridT·gridH·gridW, 3·T·P·P] in the order of Qwen2VLImageProcessor:
 * rows (t, h/m, w/m, h%m, w%m), columns (channel, frame, y, x).
 */
export function patchify(img: RgbImage, o: ResolvedImageOptions): { pixelValues: Float32Array; gridThw: [number, number, number] } {
  const P = o.patchSize, M = o.mergeSize, T = o.temporalPatchSize;
  const gh = img.height / P, gw = img.width / P;
  if (!Number.isInteger(gh) || !Number.isInteger(gw) || gh % M || gw % M) {
    throw new RangeError(`image ${img.width}×${img.height} is not a multiple of patch×merge = ${P * M}`);
  }
  // float32 arithmetic, as numpy: rescale (in float64, then cast), subtract mean, divide by std
  const f = Math.fround;
  const mean = o.imageMean.map(f), std = o.imageStd.map(f);
  const lut = [0, 1, 2].map((c) => Float32Array.from({ length: 256 }, (_, v) => f(f(f(v * o.rescaleFactor) - mean[c]) / std[c])));
  const cols = 3 * T * P * P;
  const out = new Float32Array(gh * gw * cols);
  let row = 0;
  for (let bh = 0; bh < gh / M; bh++) for (let bw = 0; bw < gw / M; bw++) for (let mh = 0; mh < M; mh++) for (let mw = 0; mw < M; mw++) {
    const y0 = (bh * M + mh) * P, x0 = (bw * M + mw) * P;
    let o2 = row * cols;
    for (let c = 0; c < 3; c++) for (let t = 0; t < T; t++) for (let py = 0; py < P; py++) {
      const base = ((y0 + py) * img.width + x0) * 3 + c;
      for (let px = 0; px < P; px++) out[o2++] = lut[c][img.data[base + px * 3]];
    }
    row++;
  }
  return { pixelValues: out, gridThw: [1, gh, gw] };
}

/** Image (path, Buffer, DICOM, or decoded RGB) → pixel values and grid for the vision tower. */
export async function preprocessImage(input: ImageInput, options: ImageOptions = {}): Promise<{ pixelValues: Float32Array; gridThw: [number, number, number] }> {
  const o = resolveImageOptions(options);
  const img = await decodeImage(input);
  return patchify(resizeForModel(img, o, describeImage(input)), o);
}
