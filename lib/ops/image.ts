// Image kernels: Pillow-exact bicubic resize of uint8 [H, W, C] images.
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

/** Resizes interleaved 8-bit pixels [height, width, channels] exactly as Pillow's BICUBIC. */
export function resizeBicubic(pixels: Uint8Array, height: number, width: number, channels: number, outHeight: number, outWidth: number): Uint8Array {
  if (pixels.length !== height * width * channels) {
    throw new RangeError(`resizeBicubic: ${pixels.length} bytes do not make a ${height}×${width}×${channels} image`);
  }
  const src = Tensor.from<'uint8'>(pixels, [height, width, channels], { copy: false });
  const dst = Tensor.empty([outHeight, outWidth, channels], { dtype: 'uint8' });
  try {
    native().resizeBicubic(src.handle, dst.handle);
    return dst.toArray() as Uint8Array;
  } finally {
    src.dispose();
    dst.dispose();
  }
}
