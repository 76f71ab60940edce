// Decoders for encapsulated (compressed) DICOM pixel data. RLE Lossless is implemented here
// (PS3.5 Annex G, small); JPEG, JPEG-LS and JPEG 2000 use the maintained WASM / JS codecs,
// loaded on first use.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface FrameLayout {
  rows: number;
  columns: number;
  samples: number;
  bitsAllocated: number;
}

/** Decoded samples of one frame: interleaved (samples last), one element per sample. */
export type Samples = Uint8Array | Uint16Array | Int16Array | Uint32Array;

/** RLE Lossless: segments hold one byte plane each (MSB first), one sample after another. */
export function decodeRle(frame: Uint8Array, f: FrameLayout): Samples {
  const bytesPerSample = f.bitsAllocated / 8;
  const pixels = f.rows * f.columns;
  if (frame.length < 64) throw new Error(`RLE frame is ${frame.length} bytes, shorter than its 64-byte header`);
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const segments = view.getUint32(0, true);
  if (segments !== f.samples * bytesPerSample) throw new Error(`RLE header declares ${segments} segments, expected ${f.samples * bytesPerSample}`);
  const out = new Uint8Array(pixels * f.samples * bytesPerSample); // little-endian interleaved
  for (let s = 0; s < segments; s++) {
    const start = view.getUint32(4 + 4 * s, true);
    const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : frame.length;
    if (start < 64 || start > end || end > frame.length) throw new Error(`RLE segment ${s} offsets [${start}, ${end}) are outside the frame`);
    const sample = Math.floor(s / bytesPerSample), byteOfSample = bytesPerSample - 1 - (s % bytesPerSample);
    let i = start, p = 0;
    const put = (b: number) => { if (p < pixels) out[(p * f.samples + sample) * bytesPerSample + byteOfSample] = b; p++; };
    while (i < end && p < pixels) {
      const n = (frame[i++] << 24) >> 24; // signed header byte (PackBits)
      if (n >= 0) { for (let k = 0; k <= n && i < end; k++) put(frame[i++]); }
      else if (n !== -128) { const b = frame[i++]; for (let k = 0; k < 1 - n; k++) put(b); }
    }
    if (p < pixels) throw new Error(`RLE segment ${s} decodes to ${p} bytes, expected ${pixels}`);
  }
  return bytesPerSample === 1 ? out : bytesPerSample === 2 ? new Uint16Array(out.buffer) : new Uint32Array(out.buffer);
}

interface WasmDecoder {
  getEncodedBuffer(n: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned?: boolean };
  delete?(): void;
}

const wasmModules = new Map<string, Promise<Record<string, new () => WasmDecoder>>>();
function wasm(pkg: string): Promise<Record<string, new () => WasmDecoder>> {
  // The codecs' progress lines ("[INFO] Start to read j2k main header") would go to stdout and
  // corrupt piped output: they are dropped (GMAI_CODEC_LOG=1 shows them on stderr). Errors
  // (printErr) keep going to stderr.
  const print = (line: string) => { if (process.env.GMAI_CODEC_LOG) process.stderr.write(`${line}\n`); };
  if (!wasmModules.has(pkg)) wasmModules.set(pkg, (require(`${pkg}/decodewasmjs`) as (m: object) => Promise<Record<string, new () => WasmDecoder>>)({ print }));
  return wasmModules.get(pkg)!;
}

async function decodeWithWasm(pkg: string, cls: string, frame: Uint8Array, f: FrameLayout): Promise<Samples> {
  const mod = await wasm(pkg);
  const dec = new mod[cls]();
  try {
    dec.getEncodedBuffer(frame.length).set(frame);
    dec.decode();
    const info = dec.getFrameInfo();
    if (info.width !== f.columns || info.height !== f.rows || info.componentCount !== f.samples) {
      throw new Error(`codec produced ${info.width}×${info.height}×${info.componentCount}, header declares ${f.columns}×${f.rows}×${f.samples}`);
    }
    const bytes = dec.getDecodedBuffer().slice(); // copy out of WASM memory
    return info.bitsPerSample > 8 ? new Uint16Array(bytes.buffer, 0, bytes.length / 2) : bytes;
  } finally {
    dec.delete?.();
  }
}

export const decodeJpegBaseline = (frame: Uint8Array, f: FrameLayout) => decodeWithWasm('@cornerstonejs/codec-libjpeg-turbo-8bit', 'JPEGDecoder', frame, f);
export const decodeJpegLs = (frame: Uint8Array, f: FrameLayout) => decodeWithWasm('@cornerstonejs/codec-charls', 'JpegLSDecoder', frame, f);
export const decodeJpeg2000 = (frame: Uint8Array, f: FrameLayout) => decodeWithWasm('@cornerstonejs/codec-openjpeg', 'J2KDecoder', frame, f);

export async function decodeJpegLossless(frame: Uint8Array, f: FrameLayout): Promise<Samples> {
  const { Decoder } = await import('jpeg-lossless-decoder-js');
  const decoder = new Decoder();
  const buf = decoder.decode(frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength) as ArrayBuffer, 0, frame.byteLength);
  return f.bitsAllocated > 8 ? new Uint16Array(buf.buffer, buf.byteOffset, buf.byteLength / 2) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}
