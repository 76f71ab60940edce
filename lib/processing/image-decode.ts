// Image files → 8-bit RGB pixels, the way transformers' load_image + PIL's convert("RGB")
// see them: EXIF orientation applied; alpha dropped, not composited; palette expanded;
// grey replicated; 16-bit grey clipped to 0..255 (PIL opens it as mode I, and I → RGB clips).
// PNG, JPEG, WebP and TIFF go through sharp; DICOM through lib/processing/dicom.
import sharp from 'sharp';

export interface RgbImage {
  width: number;
  height: number;
  /** Interleaved RGB, row-major, 3 bytes per pixel. */
  data: Uint8Array;
}

export interface DicomImageInput {
  dicom: string | Buffer;
  /** Frame of a multi-frame file (default 0). */
  frame?: number;
  /** VOI window; default: the file's, else the frame's min–max. */
  window?: { center: number; width: number };
}

export type ImageInput = string | Buffer | Uint8Array | DicomImageInput | RgbImage;

const isDicomPath = (p: string) => /\.(dcm|dicom)$/i.test(p);
const isDicomBuffer = (b: Uint8Array) => b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d; // "DICM"

/** How errors name an image: its path, else what it is. */
export function describeImage(input: ImageInput): string {
  if (typeof input === 'string') return input;
  if (input instanceof Uint8Array) return `image buffer (${input.length} bytes)`;
  if (input && typeof input === 'object' && 'dicom' in input) return typeof input.dicom === 'string' ? input.dicom : `DICOM buffer (${input.dicom.length} bytes)`;
  return 'image';
}

/** Decodes any supported input into 8-bit RGB. Errors name the file. */
export async function decodeImage(input: ImageInput): Promise<RgbImage> {
  if (input && typeof input === 'object' && !(input instanceof Uint8Array)) {
    if ('dicom' in input) return decodeDicom(input);
    if ('data' in input) {
      const { width, height, data } = input;
      if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
        throw new RangeError(`RGB image: data must be a Uint8Array of width·height·3 = ${width * height * 3} bytes`);
      }
      return input;
    }
  }
  if (typeof input === 'string' && isDicomPath(input)) return decodeDicom({ dicom: input });
  if (input instanceof Uint8Array && isDicomBuffer(input)) return decodeDicom({ dicom: Buffer.from(input) });
  if (typeof input !== 'string' && !(input instanceof Uint8Array)) throw new TypeError('image must be a path, a Buffer, { dicom } or { width, height, data }');
  try {
    return await decodeWithSharp(input);
  } catch (e) {
    throw new Error(`cannot decode ${describeImage(input)}: ${(e as Error).message}`);
  }
}

async function decodeWithSharp(input: string | Uint8Array): Promise<RgbImage> {
  const source = typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const meta = await sharp(source, { failOn: 'error' }).metadata();
  const grey16 = (meta.channels === 1 || meta.channels === 2) && (meta.depth === 'ushort' || meta.depth === 'short');
  if (grey16) {
    // PIL: mode I → RGB clips each value to 0..255 (no rescaling).
    const { data, info } = await sharp(source, { failOn: 'error' }).rotate().extractChannel(0).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const v = new Uint16Array(data.buffer, data.byteOffset, info.width * info.height);
    const out = new Uint8Array(info.width * info.height * 3);
    for (let i = 0; i < v.length; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v[i] > 255 ? 255 : v[i];
    return { width: info.width, height: info.height, data: out };
  }
  const { data, info } = await sharp(source, { failOn: 'error' })
    .rotate() // EXIF orientation, as ImageOps.exif_transpose
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels after conversion to RGB, got ${info.channels}`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

async function decodeDicom(input: DicomImageInput): Promise<RgbImage> {
  // Resolved at run time so the image path works without the DICOM module's codecs loaded.
  const specifier = './dicom.js';
  let mod: { dicomToRgb(src: string | Buffer, o: { frame?: number; window?: { center: number; width: number } }): Promise<RgbImage> };
  try {
    mod = await import(specifier);
  } catch {
    throw new Error('DICOM input needs lib/processing/dicom (not available in this build)');
  }
  return mod.dicomToRgb(input.dicom, { frame: input.frame, window: input.window });
}
