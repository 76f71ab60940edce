// Image preprocessing against transformers' Qwen2VLImageProcessor (golden outputs), and the
// resize kernel against a float64 transcription of Pillow's algorithm.
import test from 'ava';
import sharp from 'sharp';
import { readFileSync } from 'node:fs';
import { preprocessImage, smartResize, resizeForModel, resolveImageOptions, patchify } from '../dist/processing/image.js';
import { decodeImage } from '../dist/processing/image-decode.js';
import { resizeBicubic } from '../dist/ops/image.js';
import { openSafetensors } from '../dist/index.js';
import { fixture, freshSeed, rng } from './helpers.js';

const manifest = JSON.parse(readFileSync(fixture('preprocess', 'manifest.json'), 'utf8'));
const golden = openSafetensors(fixture('preprocess', 'golden.safetensors'));

for (const item of manifest.items) {
  test(`golden: ${item.name}`, async (t) => {
    const s = item.processor_settings;
    const opts = { minPixels: s.min_pixels, maxPixels: s.max_pixels, patchSize: s.patch_size, mergeSize: s.merge_size, temporalPatchSize: s.temporal_patch_size, imageMean: s.image_mean, imageStd: s.image_std };
    if (item.expect_error) {
      // transformers' message, with the image's name and the minimum side added
      const file = fixture('preprocess', item.images[0].file);
      const e = await t.throwsAsync(preprocessImage(file, opts));
      t.true(e.message.includes(item.expect_error.message), e.message);
      t.true(e.message.startsWith(file), e.message);
      t.regex(e.message, /at least 28 pixels/);
      return;
    }
    const o = resolveImageOptions(opts);
    const pixelRows = [];
    for (const [j, im] of item.images.entries()) {
      const rgb = await decodeImage(fixture('preprocess', im.file));
      const resized = resizeForModel(rgb, o);
      t.deepEqual([resized.height, resized.width], item.resize[j].resized_hw);
      const want = golden.get(`${item.name}.resized_rgb_uint8.${j}`).toArray();
      let diff = 0;
      for (let i = 0; i < want.length; i++) diff = Math.max(diff, Math.abs(want[i] - resized.data[i]));
      t.is(diff, 0, `resized uint8 image ${j} differs from Pillow by up to ${diff}`);
      const p = patchify(resized, o);
      t.deepEqual(p.gridThw, item.grid_thw[j]);
      pixelRows.push(p.pixelValues);
    }
    const want = golden.get(`${item.name}.pixel_values`).toArray();
    const got = new Float32Array(want.length);
    let off = 0;
    for (const r of pixelRows) { got.set(r, off); off += r.length; }
    t.is(off, want.length);
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i] - got[i]));
    t.log(`${item.name}: max |pixel_values - transformers| = ${worst}`);
    t.true(worst <= 1e-5, `max abs diff ${worst}`);
    // the one-call API gives the same for the first image
    const one = await preprocessImage(fixture('preprocess', item.images[0].file), opts);
    t.deepEqual(one.pixelValues, pixelRows[0]);
  });
}

/** Pillow's bicubic resample in float64 + its fixed-point rounding, for random tests. */
function pillowReference(src, h, w, c, oh, ow) {
  const PB = 22;
  const cubic = (x) => { const a = -0.5; x = Math.abs(x); return x < 1 ? ((a + 2) * x - (a + 3)) * x * x + 1 : x < 2 ? (((x - 5) * x + 8) * x - 4) * a : 0; };
  const coeffs = (inSize, outSize) => {
    const scale = inSize / outSize, fs = Math.max(scale, 1), support = 2 * fs;
    return Array.from({ length: outSize }, (_, xx) => {
      const center = (xx + 0.5) * scale;
      const xmin = Math.max(0, Math.trunc(center - support + 0.5)), xmax = Math.min(inSize, Math.trunc(center + support + 0.5));
      const ws = [];
      for (let x = xmin; x < xmax; x++) ws.push(cubic((x - center + 0.5) / fs));
      const tot = ws.reduce((a, b) => a + b, 0);
      return { xmin, ws: ws.map((v) => { const f = (tot ? v / tot : v) * 2 ** PB; return Math.trunc(f < 0 ? f - 0.5 : f + 0.5); }) };
    });
  };
  const clip = (v) => (v >= 2 ** (PB + 8) ? 255 : v <= 0 ? 0 : Math.floor(v / 2 ** PB));
  let cur = src, cw = w;
  if (ow !== w) {
    const cs = coeffs(w, ow), out = new Uint8Array(h * ow * c);
    for (let y = 0; y < h; y++) for (let x = 0; x < ow; x++) for (let ch = 0; ch < c; ch++) {
      let acc = 2 ** (PB - 1);
      cs[x].ws.forEach((wt, k) => { acc += cur[(y * w + cs[x].xmin + k) * c + ch] * wt; });
      out[(y * ow + x) * c + ch] = clip(acc);
    }
    cur = out; cw = ow;
  }
  if (oh !== h) {
    const cs = coeffs(h, oh), out = new Uint8Array(oh * cw * c);
    for (let y = 0; y < oh; y++) for (let i = 0; i < cw * c; i++) {
      let acc = 2 ** (PB - 1);
      cs[y].ws.forEach((wt, k) => { acc += cur[(cs[y].xmin + k) * cw * c + i] * wt; });
      out[y * cw * c + i] = clip(acc);
    }
    cur = out;
  }
  return cur;
}

test('resize kernel equals the Pillow reference on random images, up and down, odd sizes', (t) => {
  const seed = freshSeed();
  const r = rng(seed);
  for (const [h, w, oh, ow] of [[1, 1, 1, 1], [1, 5, 3, 2], [7, 9, 28, 56], [37, 53, 14, 28], [100, 3, 56, 84], [30, 40, 30, 81]]) {
    const src = Uint8Array.from({ length: h * w * 3 }, () => r.int(256));
    const got = resizeBicubic(src, h, w, 3, oh, ow);
    const want = pillowReference(src, h, w, 3, oh, ow);
    t.deepEqual(Array.from(got), Array.from(want), `${h}x${w} -> ${oh}x${ow} seed ${seed}`);
  }
  t.throws(() => resizeBicubic(new Uint8Array(5), 2, 2, 3, 4, 4), { message: /5 bytes/ });
});

test('smart_resize edge cases', (t) => {
  t.deepEqual(smartResize(512, 512, 28, 3136, 50176), [224, 224]);
  t.deepEqual(smartResize(30, 40, 28, 3136, 1003520), [56, 84]);
  t.deepEqual(smartResize(42, 42, 28, 0, 1e9), [56, 56], 'round(1.5) = 2 (half to even)');
  t.deepEqual(smartResize(70, 70, 28, 0, 1e9), [56, 56], 'round(2.5) = 2 (half to even)');
  t.throws(() => smartResize(20, 30), { message: 'height:20 or width:30 must be larger than factor:28' });
  t.throws(() => smartResize(28, 28 * 201), { message: /aspect ratio must be smaller than 200/ });
});

test('EXIF orientation is applied; corrupt files name the file', async (t) => {
  const w = 40, h = 30;
  const raw = Buffer.alloc(w * h * 3);
  for (let i = 0; i < w * h; i++) raw[3 * i] = i % w < 20 ? 255 : 0; // left half red
  const jpeg = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 100 }).withMetadata({ orientation: 6 }).toBuffer();
  const img = await decodeImage(jpeg);
  t.deepEqual([img.width, img.height], [h, w], 'orientation 6 rotates by 90°');
  await t.throwsAsync(decodeImage(Buffer.from('not an image at all')), { message: /cannot decode image buffer/ });
  const png = readFileSync(fixture('preprocess', 'rgba_rgba_150x100.png'));
  await t.throwsAsync(decodeImage(png.subarray(0, png.length / 2)), { message: /cannot decode/ });
  await t.throwsAsync(decodeImage('/nonexistent/x.png'), { message: /\/nonexistent\/x\.png/ });
});
