// Benchmark inputs made in memory (no downloads, no fixtures): a 16-bit MONOCHROME2 DICOM
// with a chest-radiograph-like pattern, and a photo-like RGB JPEG (gradients, texture, noise).
import sharp from 'sharp';
import { CR_IMAGE_STORAGE, uidFromKey, writeDicomImage } from '../processing/dicom/write.js';

/** Seeded uniform [0, 1) (LCG): the same pixels on every run. */
function uniform(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 4294967296; };
}

/** 12-bit stored values of a frontal chest film: dark lungs, ribs, mediastinum, spine, noise. */
function chestPattern(size: number, seed: number): Uint16Array {
  const rand = uniform(seed);
  const px = new Uint16Array(size * size);
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const u = x / size - 0.5, v = y / size - 0.5;
    const body = Math.exp(-((u / 0.46) ** 8) - ((v / 0.55) ** 8));  // soft tissue, fading to air
    const lung = Math.max(0, 1 - ((Math.abs(u) - 0.2) / 0.15) ** 2 - ((v + 0.02) / 0.34) ** 2);
    const ribs = lung > 0 ? 0.5 + 0.5 * Math.cos(2 * Math.PI * (v * 9 + 2.5 * u * u)) : 0;
    const spine = Math.exp(-((u / 0.045) ** 2));
    const value = 300 + 2600 * body - 1900 * Math.sqrt(lung) + 350 * ribs * Math.sqrt(lung) + 600 * spine * body + 60 * (rand() - 0.5);
    px[y * size + x] = Math.max(0, Math.min(4095, Math.round(value)));
  }
  return px;
}

/** A size×size 16-bit (12 bits stored) MONOCHROME2 CR DICOM with a lung window. */
export function syntheticChestDicom(size = 512, seed = 7): Buffer {
  const uid = (what: string) => uidFromKey(`gmai bench chest ${size} ${seed} ${what}`);
  return writeDicomImage({
    rows: size, columns: size, photometric: 'MONOCHROME2', pixels: chestPattern(size, seed), bitsStored: 12,
    modality: 'CR', sopClassUid: CR_IMAGE_STORAGE,
    sopInstanceUid: uid('instance'), studyInstanceUid: uid('study'), seriesInstanceUid: uid('series'),
    window: { center: 2048, width: 4096 },
    // CR Series and General Equipment attributes the CR IOD requires (dciodvfy-clean)
    extra: [[0x00080070, 'LO', ''], [0x00180015, 'CS', 'CHEST'], [0x00185101, 'CS', 'PA']],
  });
}

/** A width×height RGB JPEG (quality 90) that compresses like a photo: gradients, texture, noise. */
export async function syntheticPhotoJpeg(width = 2000, height = 1500, seed = 9): Promise<Buffer> {
  const rand = uniform(seed);
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const u = x / width, v = y / height;
    const texture = 30 * Math.sin(u * 37 + 5 * Math.sin(v * 11)) * Math.cos(v * 23 + 3 * Math.sin(u * 7));
    const base = [220 * u + 20, 200 * v + 30, 160 * (1 - u * v) + 40];
    for (let c = 0; c < 3; c++) rgb[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, base[c] + texture * (c === 1 ? -0.6 : 1) + 36 * (rand() - 0.5)));
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}
