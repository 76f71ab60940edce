// DICOM decoding against pydicom's own pixel arrays (test/fixtures/dicom, see its README).
import test from 'ava';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { readDicom, dicomToRgb } from '../dist/processing/dicom.js';
import { preprocessImage, openSafetensors } from '../dist/index.js';
import { fixture, freshSeed, rng } from './helpers.js';

const cases = readdirSync(fixture('dicom'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

for (const name of cases) {
  test(`pydicom parity: ${name}`, async (t) => {
    const m = JSON.parse(readFileSync(fixture('dicom', name, 'manifest.json'), 'utf8'));
    const file = fixture('dicom', name, `${name}.dcm`);
    if (m.expect_error) {
      const e = await t.throwsAsync(readDicom(file));
      t.true(e.message.includes(file), `error names the file: ${e.message}`);
      return;
    }
    const px = await readDicom(file);
    t.is(px.meta.rows, m.meta.rows);
    t.is(px.meta.columns, m.meta.columns);
    t.is(px.meta.frames, m.meta.number_of_frames);
    t.is(px.meta.photometricInterpretation, m.meta.photometric_interpretation);
    t.is(px.meta.transferSyntaxUid, m.meta.transfer_syntax);
    const golden = openSafetensors(fixture('dicom', name, 'expected.safetensors'));
    for (const key of golden.keys()) {
      const want = golden.get(key).toArray();
      const got = px[key];
      t.truthy(got, `${key} is produced`);
      t.deepEqual(px.shape, m.tensors[key].shape);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
      t.log(`${name}.${key}: max |ours - pydicom| = ${worst} (tolerance ${m.tolerance[key]})`);
      t.true(worst <= m.tolerance[key], `${name}.${key}: ${worst} > ${m.tolerance[key]}`);
    }
  });
}

test('buffers work like paths; truncated and random bytes are clean errors', async (t) => {
  const bytes = readFileSync(fixture('dicom', 'MR_small', 'MR_small.dcm'));
  const a = await readDicom(bytes);
  const b = await readDicom(fixture('dicom', 'MR_small', 'MR_small.dcm'));
  t.deepEqual(a.stored, b.stored);
  const seed = freshSeed();
  const r = rng(seed);
  for (const n of [0, 10, 132, 500, bytes.length - 100]) {
    await t.throwsAsync(readDicom(bytes.subarray(0, n)), { message: /DICOM buffer/ }, `first ${n} bytes`);
  }
  const junk = Uint8Array.from({ length: 2000 }, () => r.int(256));
  await t.throwsAsync(readDicom(junk), { message: /DICOM buffer/ }, `random bytes, seed ${seed}`);
  await t.throwsAsync(readDicom('/nonexistent.dcm'), { message: /\/nonexistent\.dcm/ });
  await t.throwsAsync(readDicom(fixture('dicom', 'rtdose', 'rtdose.dcm'), { frame: 15 }), { message: /frame 15 does not exist/ });
});

test('display conversion: file window, caller window, min–max, colour', async (t) => {
  const file = fixture('dicom', 'MR_small', 'MR_small.dcm');
  const px = await readDicom(file);
  const img = await dicomToRgb(file);
  t.deepEqual([img.width, img.height], [64, 64]);
  // window from the file (600/1600): y = clip(((x - 599.5)/1599 + 0.5)·255)
  const expect = (x, c, w) => { const cc = c - 0.5, ww = w - 1; return x <= cc - ww / 2 ? 0 : x > cc + ww / 2 ? 255 : Math.round(((x - cc) / ww + 0.5) * 255); };
  for (const i of [0, 100, 2000, 4095]) {
    t.is(img.data[3 * i], expect(px.modality[i], 600, 1600));
    t.is(img.data[3 * i], img.data[3 * i + 2], 'grey replicated');
  }
  const narrow = await dicomToRgb(file, { window: { center: 300, width: 200 } });
  for (const i of [0, 100, 2000]) t.is(narrow.data[3 * i], expect(px.modality[i], 300, 200));
  const ct = await dicomToRgb(fixture('dicom', 'CT_small', 'CT_small.dcm')); // no window: min–max
  t.is(Math.min(...ct.data), 0);
  t.is(Math.max(...ct.data), 255);
  const colour = await dicomToRgb(fixture('dicom', 'SC_rgb_rle', 'SC_rgb_rle.dcm'));
  const stored = (await readDicom(fixture('dicom', 'SC_rgb_rle', 'SC_rgb_rle.dcm'))).stored;
  t.deepEqual(Array.from(colour.data.subarray(0, 30)), Array.from(stored.subarray(0, 30)));
  await t.throwsAsync(dicomToRgb(file, { window: { center: 0, width: 0 } }), { message: /width >= 1/ });
});

test('DICOM goes through the image preprocessor (path, buffer, options)', async (t) => {
  const file = fixture('dicom', 'CT_small', 'CT_small.dcm');
  const a = await preprocessImage(file);
  const b = await preprocessImage({ dicom: readFileSync(file), window: { center: 40, width: 400 } });
  t.deepEqual(a.gridThw, [1, 10, 10]);
  t.deepEqual(b.gridThw, [1, 10, 10]);
  t.notDeepEqual(a.pixelValues, b.pixelValues);
});

test('one frame of a 1-bit and of a YBR_FULL_422 multi-frame file is that frame of the whole; 1-bit masks display', async (t) => {
  for (const name of ['BitsAllocated1_multiframe', 'YBR_FULL_422_8bit']) {
    const file = fixture('dicom', name, `${name}.dcm`);
    const all = await readDicom(file);
    const per = all.stored.length / all.meta.frames;
    for (let f = 0; f < all.meta.frames; f++) {
      const one = await readDicom(file, { frame: f });
      t.deepEqual(Array.from(one.stored), Array.from(all.stored.subarray(f * per, (f + 1) * per)), `${name} frame ${f}`);
    }
    await t.throwsAsync(readDicom(file, { frame: all.meta.frames }), { message: new RegExp(`frames count from 0, and the file has ${all.meta.frames} \\(0 to ${all.meta.frames - 1}\\)`) });
  }
  const mask = await dicomToRgb(fixture('dicom', 'BitsAllocated1_multiframe', 'BitsAllocated1_multiframe.dcm'), { frame: 1 });
  t.deepEqual([...new Set(mask.data)].sort((a, b) => a - b), [0, 255]);
});
