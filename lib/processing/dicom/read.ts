// DICOM files → pixel arrays in the layout pydicom's `pixel_array` gives (stored values,
// [frames,] rows, cols [, samples]), plus the modality LUT (rescale), the first VOI window and
// YBR → RGB conversion. Parsing by dicom-parser; codecs in ./codecs.ts.
import dicomParser from 'dicom-parser';
import { readFile } from 'node:fs/promises';
import { decodeJpeg2000, decodeJpegBaseline, decodeJpegLossless, decodeJpegLs, decodeRle, type FrameLayout, type Samples } from './codecs.js';

export interface DicomMeta {
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: number;
  planarConfiguration: number | null;
  rescaleSlope: number | null;
  rescaleIntercept: number | null;
  windowCenter: number[] | null;
  windowWidth: number[] | null;
  transferSyntaxUid: string;
  modality: string | null;
}

export interface DicomPixels {
  meta: DicomMeta;
  /** [frames,] rows, cols [, samples] — frames only when there are several. */
  shape: number[];
  stored: Float32Array;
  /** Rescale slope/intercept applied (monochrome). */
  modality?: Float32Array;
  /** First VOI window applied to `modality` (PS3.3 C.11.2.1.2), in the stored bit depth's range. */
  voi?: Float32Array;
  /** YBR converted to RGB. */
  rgb?: Float32Array;
}

type Decoder = (frame: Uint8Array, f: FrameLayout) => Samples | Promise<Samples>;
const NATIVE = new Map([
  ['1.2.840.10008.1.2', 'Implicit VR Little Endian'],
  ['1.2.840.10008.1.2.1', 'Explicit VR Little Endian'],
  ['1.2.840.10008.1.2.2', 'Explicit VR Big Endian'],
]);
const ENCAPSULATED = new Map<string, [string, Decoder]>([
  ['1.2.840.10008.1.2.5', ['RLE Lossless', decodeRle]],
  ['1.2.840.10008.1.2.4.50', ['JPEG Baseline (Process 1)', decodeJpegBaseline]],
  ['1.2.840.10008.1.2.4.51', ['JPEG Extended (Process 2 & 4)', decodeJpegBaseline]],
  ['1.2.840.10008.1.2.4.57', ['JPEG Lossless, Non-Hierarchical (Process 14)', decodeJpegLossless]],
  ['1.2.840.10008.1.2.4.70', ['JPEG Lossless, First-Order Prediction', decodeJpegLossless]],
  ['1.2.840.10008.1.2.4.80', ['JPEG-LS Lossless', decodeJpegLs]],
  ['1.2.840.10008.1.2.4.81', ['JPEG-LS Near-Lossless', decodeJpegLs]],
  ['1.2.840.10008.1.2.4.90', ['JPEG 2000 Lossless', decodeJpeg2000]],
  ['1.2.840.10008.1.2.4.91', ['JPEG 2000', decodeJpeg2000]],
]);

const numbers = (s: string | undefined): number[] | null => {
  if (s === undefined || s.trim() === '') return null;
  const v = s.split('\\').map((x) => Number(x.trim()));
  return v.every(Number.isFinite) ? v : null;
};

function readMeta(ds: dicomParser.DataSet, where: string): DicomMeta {
  const us = (tag: string, name: string, required = true): number => {
    const v = ds.uint16(tag);
    if (v === undefined && required) throw new Error(`${where}: missing ${name} (${tag})`);
    return v ?? 0;
  };
  const ts = (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim();
  const slope = numbers(ds.string('x00281053'))?.[0] ?? null;
  const intercept = numbers(ds.string('x00281052'))?.[0] ?? null;
  return {
    rows: us('x00280010', 'Rows'),
    columns: us('x00280011', 'Columns'),
    frames: Number(ds.string('x00280008') ?? '1') || 1,
    samplesPerPixel: us('x00280002', 'SamplesPerPixel', false) || 1,
    photometricInterpretation: (ds.string('x00280004') ?? 'MONOCHROME2').trim(),
    bitsAllocated: us('x00280100', 'BitsAllocated'),
    bitsStored: us('x00280101', 'BitsStored', false) || us('x00280100', 'BitsAllocated'),
    highBit: ds.uint16('x00280102') ?? 0,
    pixelRepresentation: us('x00280103', 'PixelRepresentation', false),
    planarConfiguration: ds.uint16('x00280006') ?? null,
    rescaleSlope: slope,
    rescaleIntercept: intercept,
    windowCenter: numbers(ds.string('x00281050')),
    windowWidth: numbers(ds.string('x00281051')),
    transferSyntaxUid: ts,
    modality: ds.string('x00080060')?.trim() ?? null,
  };
}

/** Reads `n` native (uncompressed) samples from `offset`, honouring byte order. */
function nativeSamples(bytes: Uint8Array, offset: number, n: number, m: DicomMeta, bigEndian: boolean): Float64Array {
  const out = new Float64Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, (n * m.bitsAllocated) / 8);
  const signed = m.pixelRepresentation === 1;
  for (let i = 0; i < n; i++) {
    switch (m.bitsAllocated) {
      case 8: out[i] = signed ? view.getInt8(i) : view.getUint8(i); break;
      case 16: out[i] = signed ? view.getInt16(2 * i, !bigEndian) : view.getUint16(2 * i, !bigEndian); break;
      default: out[i] = signed ? view.getInt32(4 * i, !bigEndian) : view.getUint32(4 * i, !bigEndian); break;
    }
  }
  return out;
}

/** BitsAllocated 1: `n` bits from bit `firstBit` on, least significant bit first (frames of a
 * multi-frame file follow each other bit by bit, not byte-aligned), as pydicom unpacks them. */
function unpackBits(bytes: Uint8Array, offset: number, firstBit: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const bit = firstBit + i;
    out[i] = (bytes[offset + (bit >> 3)] >> (bit & 7)) & 1;
  }
  return out;
}

/** Uncompressed YBR_FULL_422 stores Y1 Y2 Cb Cr for each pair of pixels; pydicom expands it
 * to Y1 Cb Cr Y2 Cb Cr (both pixels share the pair's chroma). */
function expandYbr422(v: Float64Array): Float64Array {
  const out = new Float64Array((v.length / 4) * 6);
  for (let i = 0, o = 0; i < v.length; i += 4, o += 6) {
    out[o] = v[i]; out[o + 1] = v[i + 2]; out[o + 2] = v[i + 3];
    out[o + 3] = v[i + 1]; out[o + 4] = v[i + 2]; out[o + 5] = v[i + 3];
  }
  return out;
}

/** Keeps the BitsStored low bits, sign-extended for signed data (no-op when stored = allocated). */
function maskStored(v: Float64Array, m: DicomMeta): void {
  if (m.bitsStored >= m.bitsAllocated || m.bitsStored >= 32) return;
  const mask = 2 ** m.bitsStored, half = mask / 2;
  for (let i = 0; i < v.length; i++) {
    let x = ((v[i] % mask) + mask) % mask;
    if (m.pixelRepresentation === 1 && x >= half) x -= mask;
    v[i] = x;
  }
}

/** Planar (RRR…GGG…BBB) to interleaved (RGBRGB…) for one frame. */
function interleave(v: Float64Array, m: DicomMeta): Float64Array {
  const px = m.rows * m.columns, s = m.samplesPerPixel;
  const out = new Float64Array(v.length);
  for (let c = 0; c < s; c++) for (let p = 0; p < px; p++) out[p * s + c] = v[c * px + p];
  return out;
}

const isYbr = (pi: string) => pi.startsWith('YBR_FULL') || pi === 'YBR_ICT' || pi === 'YBR_RCT';

/** YBR_FULL → RGB with the coefficients of PS3.3 C.7.6.3.1.2, rounded and clipped to 8 bits. */
export function ybrToRgb(ybr: Float32Array): Float32Array {
  const out = new Float32Array(ybr.length);
  const clip = (x: number) => Math.min(255, Math.max(0, Math.floor(x + 0.5)));
  for (let i = 0; i < ybr.length; i += 3) {
    const y = ybr[i], cb = ybr[i + 1] - 128, cr = ybr[i + 2] - 128;
    out[i] = clip(y + 1.402 * cr);
    out[i + 1] = clip(y - ((0.114 * 1.772) / 0.587) * cb - ((0.299 * 1.402) / 0.587) * cr);
    out[i + 2] = clip(y + 1.772 * cb);
  }
  return out;
}

function rgbToYbr(rgb: Float64Array): Float64Array {
  const out = new Float64Array(rgb.length);
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i], g = rgb[i + 1], b = rgb[i + 2];
    out[i] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    out[i + 1] = Math.round(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
    out[i + 2] = Math.round(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
  }
  return out;
}

/** Applies the first VOI window linearly (PS3.3 C.11.2.1.2) onto [yMin, yMax]. */
export function applyWindow(values: Float32Array, center: number, width: number, yMin: number, yMax: number): Float32Array {
  if (!(width >= 1)) throw new RangeError(`VOI window width must be at least 1, got ${width}`);
  const c = center - 0.5, w = width - 1, range = yMax - yMin;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const x = values[i];
    out[i] = x <= c - w / 2 ? yMin : x > c + w / 2 ? yMax : ((x - c) / w + 0.5) * range + yMin;
  }
  return out;
}

function describe(src: string | Uint8Array): string {
  return typeof src === 'string' ? src : `DICOM buffer (${src.length} bytes)`;
}

/** Parses a DICOM file or buffer and decodes its pixel data (all frames, or one). */
export async function readDicom(src: string | Uint8Array, opts: { frame?: number } = {}): Promise<DicomPixels> {
  const where = describe(src);
  let bytes: Uint8Array;
  try {
    bytes = typeof src === 'string' ? new Uint8Array(await readFile(src)) : src;
  } catch (e) {
    throw new Error(`cannot read ${where}: ${(e as Error).message}`);
  }
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes);
  } catch (e) {
    const msg = typeof e === 'string' ? e : (e as Error)?.message ?? (e as { exception?: string })?.exception ?? String(e);
    throw new Error(`${where}: not a readable DICOM file (${msg})`);
  }
  const m = readMeta(ds, where);
  const pixelEl = ds.elements.x7fe00010;
  if (!pixelEl) throw new Error(`${where}: no Pixel Data (7FE0,0010)`);
  if (![1, 8, 16, 32].includes(m.bitsAllocated)) throw new Error(`${where}: BitsAllocated ${m.bitsAllocated} is not supported (1, 8, 16 or 32)`);
  if (m.rows < 1 || m.columns < 1) throw new Error(`${where}: image size ${m.rows}×${m.columns} is empty`);
  const frameList = opts.frame === undefined ? Array.from({ length: m.frames }, (_, i) => i) : [opts.frame];
  for (const f of frameList) if (!Number.isInteger(f) || f < 0 || f >= m.frames) throw new RangeError(`${where}: frame ${f} does not exist: frames count from 0, and the file has ${m.frames} (0 to ${m.frames - 1})`);
  const perFrame = m.rows * m.columns * m.samplesPerPixel;
  const frames: Float64Array[] = [];
  let ybrFromJpeg = false;
  if (NATIVE.has(m.transferSyntaxUid)) {
    // Uncompressed 4:2:2 holds two samples per pixel (Y, and Cb or Cr shared with a neighbour).
    const subsampled = m.photometricInterpretation === 'YBR_FULL_422' && m.samplesPerPixel === 3;
    if (subsampled && (m.rows * m.columns) % 2) throw new Error(`${where}: YBR_FULL_422 needs an even number of pixels per frame, got ${m.rows}×${m.columns}`);
    const storedPerFrame = subsampled ? m.rows * m.columns * 2 : perFrame;
    const layout = `${m.frames} frame(s) of ${m.rows}×${m.columns}×${m.samplesPerPixel}` + (subsampled ? ' in YBR_FULL_422 (2 samples per pixel)' : '');
    const declared = Math.ceil((storedPerFrame * m.bitsAllocated * m.frames) / 8);
    const available = Math.min(pixelEl.length, bytes.length - pixelEl.dataOffset);
    if (pixelEl.length === 0xffffffff || available < declared) {
      throw new Error(`${where}: Pixel Data holds ${Math.max(0, available)} bytes but the header declares ${layout} at ${m.bitsAllocated} bit(s) = ${declared} bytes`);
    }
    const bigEndian = m.transferSyntaxUid === '1.2.840.10008.1.2.2';
    for (const f of frameList) {
      let v: Float64Array;
      if (m.bitsAllocated === 1) v = unpackBits(bytes, pixelEl.dataOffset, f * storedPerFrame, storedPerFrame);
      else v = nativeSamples(bytes, pixelEl.dataOffset + (f * storedPerFrame * m.bitsAllocated) / 8, storedPerFrame, m, bigEndian);
      if (subsampled) v = expandYbr422(v);
      else if (m.samplesPerPixel > 1 && m.planarConfiguration === 1) v = interleave(v, m);
      frames.push(v);
    }
  } else {
    const codec = ENCAPSULATED.get(m.transferSyntaxUid);
    if (!codec) throw new Error(`${where}: transfer syntax ${m.transferSyntaxUid} is not supported`);
    const [name, decode] = codec;
    if (!pixelEl.fragments?.length) throw new Error(`${where}: ${name} pixel data has no fragments`);
    const layout: FrameLayout = { rows: m.rows, columns: m.columns, samples: m.samplesPerPixel, bitsAllocated: m.bitsAllocated };
    for (const f of frameList) {
      let data: Uint8Array;
      try {
        data = m.frames === 1
          ? dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixelEl, 0, pixelEl.fragments.length)
          : dicomParser.readEncapsulatedImageFrame(ds, pixelEl, f, pixelEl.basicOffsetTable?.length ? pixelEl.basicOffsetTable : dicomParser.createJPEGBasicOffsetTable(ds, pixelEl));
      } catch (e) {
        throw new Error(`${where}: cannot read ${name} frame ${f} (${(e as Error)?.message ?? e})`);
      }
      let samples: Samples;
      try {
        samples = await decode(data, layout);
      } catch (e) {
        throw new Error(`${where}: ${name} frame ${f} could not be decoded (${(e as Error)?.message ?? e})`);
      }
      if (samples.length !== perFrame) throw new Error(`${where}: ${name} frame ${f} decoded to ${samples.length} samples, expected ${perFrame}`);
      let v: Float64Array = Float64Array.from(samples as ArrayLike<number>);
      if (m.pixelRepresentation === 1 && m.bitsAllocated === 16 && samples instanceof Uint16Array) v = v.map((x) => (x >= 32768 ? x - 65536 : x));
      // JPEG codecs hand back RGB for YCbCr data; pydicom keeps the stored YBR values.
      if ((decode === decodeJpegBaseline) && m.samplesPerPixel === 3 && isYbr(m.photometricInterpretation)) { v = rgbToYbr(v); ybrFromJpeg = true; }
      frames.push(v);
    }
  }
  for (const v of frames) maskStored(v, m);
  const stored = new Float32Array(frames.length * perFrame);
  frames.forEach((v, i) => stored.set(v, i * perFrame));
  const shape = [...(frames.length > 1 ? [frames.length] : []), m.rows, m.columns, ...(m.samplesPerPixel > 1 ? [m.samplesPerPixel] : [])];
  const out: DicomPixels = { meta: m, shape, stored };
  if (m.samplesPerPixel === 1) {
    const slope = m.rescaleSlope ?? 1, intercept = m.rescaleIntercept ?? 0;
    out.modality = stored.map((x) => x * slope + intercept);
    if (m.windowCenter?.length && m.windowWidth?.length) {
      let yMin = m.pixelRepresentation === 0 ? 0 : -(2 ** (m.bitsStored - 1));
      let yMax = m.pixelRepresentation === 0 ? 2 ** m.bitsStored - 1 : 2 ** (m.bitsStored - 1) - 1;
      if (m.rescaleSlope !== null && m.rescaleIntercept !== null) { yMin = yMin * slope + intercept; yMax = yMax * slope + intercept; }
      out.voi = applyWindow(out.modality, m.windowCenter[0], m.windowWidth[0], yMin, yMax);
    }
  } else if (isYbr(m.photometricInterpretation) || ybrFromJpeg) {
    out.rgb = ybrToRgb(stored);
  }
  return out;
}
