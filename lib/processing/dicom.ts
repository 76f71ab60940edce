// DICOM for the vision model: `readDicom` (pixel arrays as pydicom gives them) and
// `dicomToRgb`, the display conversion: modality LUT, VOI window (the caller's, else the
// file's, else the frame's min–max) onto 0..255, MONOCHROME1 inverted, grey replicated to RGB;
// colour images converted from YBR and scaled to 8 bits.
import { applyWindow, readDicom, type DicomPixels } from './dicom/read.js';
import type { RgbImage } from './image-decode.js';

export { readDicom, applyWindow, ybrToRgb } from './dicom/read.js';
export type { DicomMeta, DicomPixels } from './dicom/read.js';

export interface DicomDisplayOptions {
  frame?: number;
  window?: { center: number; width: number };
}

function toRgb8(values: Float32Array, grey: boolean, maxValue: number): Uint8Array {
  const pixels = grey ? values.length : values.length / 3;
  const out = new Uint8Array(pixels * 3);
  const scale = 255 / maxValue;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) {
      const v = grey ? values[p] : values[p * 3 + c];
      out[p * 3 + c] = Math.max(0, Math.min(255, Math.round(v * scale)));
    }
  }
  return out;
}

/** One frame as 8-bit RGB for the image processor. */
export async function dicomToRgb(src: string | Uint8Array, opts: DicomDisplayOptions = {}): Promise<RgbImage> {
  const px: DicomPixels = await readDicom(src, { frame: opts.frame ?? 0 });
  const m = px.meta;
  const size = { width: m.columns, height: m.rows };
  if (m.samplesPerPixel === 3) {
    const rgb = px.rgb ?? px.stored;
    return { ...size, data: toRgb8(rgb, false, px.rgb ? 255 : 2 ** m.bitsStored - 1) };
  }
  const values = px.modality!;
  let win = opts.window;
  if (win && !(win.width >= 1 && Number.isFinite(win.center))) throw new RangeError(`window must have a finite center and width >= 1, got ${JSON.stringify(win)}`);
  if (!win && m.windowCenter?.length && m.windowWidth?.length) win = { center: m.windowCenter[0], width: m.windowWidth[0] };
  if (!win) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    win = { center: (lo + hi + 1) / 2, width: Math.max(1, hi - lo + 1) };  // maps [lo, hi] onto [0, 255]
  }
  const display = applyWindow(values, win.center, win.width, 0, 255);
  if (m.photometricInterpretation === 'MONOCHROME1') for (let i = 0; i < display.length; i++) display[i] = 255 - display[i];
  return { ...size, data: toRgb8(display, true, 255) };
}
