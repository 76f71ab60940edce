// The DICOM writer (lib/processing/dicom/write.ts): files read back by readDicom with the values
// written, 16-bit and RGB included, and bad input refused with the field named.
import test from 'ava';
import { readDicom } from '../dist/processing/dicom.js';
import { writeDicomImage } from '../dist/index.js';
import { uidFromKey, writeDicomFile } from '../dist/processing/dicom/write.js';
import { syntheticChestDicom } from '../dist/bench/synthetic-images.js';
import { freshSeed, rng } from './helpers.js';

const base = (over) => ({
  rows: 3, columns: 5, photometric: 'MONOCHROME2', modality: 'OT', sopClassUid: '1.2.840.10008.5.1.4.1.1.7',
  sopInstanceUid: uidFromKey('i'), studyInstanceUid: uidFromKey('st'), seriesInstanceUid: uidFromKey('se'), ...over,
});

test('16-bit grey, 8-bit RGB and odd sizes round-trip through readDicom', async (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  for (const [rows, columns] of [[1, 1], [3, 5], [7, 2]]) {
    const grey = Uint16Array.from({ length: rows * columns }, () => r.int(4096));
    const px = await readDicom(writeDicomImage(base({ rows, columns, pixels: grey, bitsStored: 12, window: { center: 40, width: 400 } })));
    t.like(px.meta, { rows, columns, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 12, highBit: 11, windowCenter: [40], windowWidth: [400], modality: 'OT' });
    t.deepEqual(Array.from(px.stored), Array.from(grey));
    const rgb = Uint8Array.from({ length: rows * columns * 3 }, () => r.int(256));  // odd byte count: OB padded
    const c = await readDicom(writeDicomImage(base({ rows, columns, photometric: 'RGB', pixels: rgb })));
    t.like(c.meta, { rows, columns, samplesPerPixel: 3, photometricInterpretation: 'RGB', bitsAllocated: 8, planarConfiguration: 0 });
    t.deepEqual(Array.from(c.stored), Array.from(rgb));
  }
});

test('the bench chest CR reads back as written', async (t) => {
  const px = await readDicom(syntheticChestDicom(40, 3));
  t.like(px.meta, { rows: 40, columns: 40, bitsAllocated: 16, bitsStored: 12, modality: 'CR', windowCenter: [2048], windowWidth: [4096] });
  t.true(px.stored.every((v) => v >= 0 && v < 4096));
});

test('uidFromKey: deterministic, valid 2.25 UIDs', (t) => {
  const a = uidFromKey('x'), b = uidFromKey('x'), c = uidFromKey('y');
  t.is(a, b);
  t.not(a, c);
  t.regex(a, /^2\.25\.[1-9][0-9]*$/);
  t.true(a.length <= 64);
});

test('bad input is refused with the field named', (t) => {
  const pixels = new Uint8Array(15);
  t.throws(() => writeDicomImage(base({ pixels: new Uint8Array(14) })), { message: /pixels has 14 values, MONOCHROME2 3×5 needs 15/ });
  t.throws(() => writeDicomImage(base({ pixels: new Float32Array(15) })), { message: /Uint8Array or Uint16Array/ });
  t.throws(() => writeDicomImage(base({ pixels, rows: 0 })), { message: /rows and columns/ });
  t.throws(() => writeDicomImage(base({ pixels, bitsStored: 9 })), { message: /bitsStored must be in 1..8, got 9/ });
  t.throws(() => writeDicomImage(base({ pixels, extra: [[0x00080060, 'CS', 'CT']] })), { message: /tag occurs twice/ });
  t.throws(() => writeDicomFile([[0x00080016, 'UI', '1.2'], [0x00080018, 'UI', '1.3'], [0x00020010, 'UI', '1.2']]), { message: /group 0002/ });
  t.throws(() => writeDicomFile([[0x00080060, 'CS', 'OT']]), { message: /SOP Class UID \(0008,0016\)/ });
  t.throws(() => writeDicomImage(base({ pixels, modality: 'X'.repeat(70000) })), { message: /\(0008,0060\) CS: value of 70000 bytes/ });
});
