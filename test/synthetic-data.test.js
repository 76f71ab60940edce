// Synthetic medical data (lib/data/synthetic): reproducible bytes, answers re-derived from the
// pixels alone (threshold + connected components, no access to the drawn geometry), DICOM read
// back by the package's reader (and pydicom when installed), disjoint splits, eval loader.
import test from 'ava';
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  generateSyntheticExample, parseAnswer, reasoningTrace, rewards, SYNTHETIC_MODALITIES, SYNTHETIC_TASKS, writeSyntheticDataset,
} from '../dist/index.js';
import { loadMcqDataset } from '../dist/eval/dataset.js';
import { readDicom, dicomToRgb } from '../dist/processing/dicom.js';

/** A PNG's pixels with its own channel count (1 for a grey PNG: IHDR colour type 0). */
async function readPng(file) {
  const grey = readFileSync(file)[25] === 0;
  const { data, info } = await sharp(file).toColourspace(grey ? 'b-w' : 'srgb').raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data, grey };
}

const tmp = () => mkdtempSync(join(tmpdir(), 'gmai-synth-'));
const sha = (b) => createHash('sha256').update(b).digest('hex');
// Lesion pixels are ≥ 232 and all others ≤ 200 in the detection channel (docs/data.md): split
// the gap. The test reads pixels only.
const THRESHOLD = 216;

/** Bright connected components (8-neighbour) of the detection channel: grey, or green for RGB. */
function brightComponents({ width, height, channels, data }) {
  const ch = channels === 1 ? 0 : 1;
  const bright = (i) => data[i * channels + ch] >= THRESHOLD;
  const label = new Int32Array(width * height).fill(-1);
  const comps = [];
  for (let start = 0; start < width * height; start++) {
    if (!bright(start) || label[start] >= 0) continue;
    const c = { area: 0, minX: Infinity, maxX: -Infinity, minY: Infinity, maxY: -Infinity };
    const stack = [start];
    label[start] = comps.length;
    while (stack.length) {
      const i = stack.pop(), x = i % width, y = (i - x) / width;
      c.area++; c.minX = Math.min(c.minX, x); c.maxX = Math.max(c.maxX, x); c.minY = Math.min(c.minY, y); c.maxY = Math.max(c.maxY, y);
      for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
        const nx = x + dx, ny = y + dy, j = ny * width + nx;
        if (nx >= 0 && ny >= 0 && nx < width && ny < height && label[j] < 0 && bright(j)) { label[j] = comps.length; stack.push(j); }
      }
    }
    comps.push(c);
  }
  return comps;
}

/** Which half / quadrant a component lies in, or null when it straddles the midline. */
const half = (c, w) => (c.maxX < w / 2 ? 'left' : c.minX >= w / 2 ? 'right' : null);
const vertical = (c, h) => (c.maxY < h / 2 ? 'upper' : c.minY >= h / 2 ? 'lower' : null);
const quadrantText = (c, img) => {
  const [v, h] = [vertical(c, img.height), half(c, img.width)];
  return v && h ? `${v[0].toUpperCase()}${v.slice(1)} ${h}` : null;
};

/** The answer text the pixels support for a task (null where the pixels decide nothing). */
function answerFromPixels(task, img) {
  const comps = brightComponents(img);
  switch (task) {
    case 'count': return String(comps.length);
    case 'side': {
      const sides = new Set(comps.map((c) => half(c, img.width)));
      if (sides.has(null)) return 'straddles the midline';
      if (sides.size === 0) return 'None visible';
      if (sides.size === 2) return 'Both halves';
      return sides.has('left') ? 'Left half only' : 'Right half only';
    }
    case 'quadrant': return comps.length === 1 ? quadrantText(comps[0], img) : `${comps.length} components`;
    case 'largest': {
      const sorted = [...comps].sort((a, b) => b.area - a.area);
      // a clear winner: at least twice the area of the runner-up
      if (sorted.length < 2 || sorted[0].area < 2 * sorted[1].area) return 'no clear largest';
      return quadrantText(sorted[0], img);
    }
    default: return null;
  }
}

const pixelTasks = SYNTHETIC_TASKS.filter((t) => t !== 'modality');

test('every modality × task × answer class: the answer follows from the pixels', (t) => {
  let checked = 0;
  for (const modality of SYNTHETIC_MODALITIES) for (const task of pixelTasks) for (let cls = 0; cls < 4; cls++) {
    for (let k = 0; k < 6; k++) {
      const seed = 1000 * checked + 17;
      const ex = generateSyntheticExample(seed, { modality, task, answerClass: cls, size: k % 2 ? 112 : 160 });
      const text = ex.options[ex.answer];
      t.is(answerFromPixels(task, ex.scene), text, `seed ${seed} ${modality} ${task}: pixels vs answer '${text}'`);
      t.is(ex.scene.channels, modality === 'fundus' ? 3 : 1);
      checked++;
    }
  }
  t.is(checked, 4 * 4 * 4 * 6);
});

test('answers follow from the pixels for random seeds (options shuffled)', (t) => {
  const first = (Math.random() * 2 ** 31) >>> 0;
  t.log(`seeds from ${first}`);
  const classes = new Map();
  for (let s = first; s < first + 200; s++) {
    const ex = generateSyntheticExample(s, { shuffleOptions: true });
    t.deepEqual(Object.keys(ex.options), ['A', 'B', 'C', 'D']);
    const text = ex.options[ex.answer];
    if (ex.task === 'modality') t.is(text, ['Chest radiograph', 'CT slice', 'Fundus photograph', 'Ultrasound image'][SYNTHETIC_MODALITIES.indexOf(ex.modality)]);
    else t.is(answerFromPixels(ex.task, ex.scene), text, `seed ${s} ${ex.modality} ${ex.task}`);
    classes.set(`${ex.task}:${text}`, true);
  }
  t.true(classes.size >= 15, `answer classes seen: ${classes.size}`);
});

test('the same seed gives the same bytes; another seed different images', async (t) => {
  const [a, b, c] = [tmp(), tmp(), tmp()];
  try {
    const opts = { seed: 5, trainCount: 12, heldOutCount: 6, format: 'both' };
    await writeSyntheticDataset(a, opts);
    await writeSyntheticDataset(b, opts);
    await writeSyntheticDataset(c, { ...opts, seed: 6 });
    const files = (d) => [...readdirSync(d).filter((f) => f !== 'images'), ...readdirSync(join(d, 'images')).map((f) => `images/${f}`)].sort();
    t.deepEqual(files(a), files(b));
    t.is(files(a).length, 3 + 2 * 18);
    for (const f of files(a)) t.is(sha(readFileSync(join(a, f))), sha(readFileSync(join(b, f))), f);
    const images = (d) => new Set(files(d).filter((f) => f.startsWith('images/')).map((f) => sha(readFileSync(join(d, f)))));
    const other = images(c);
    for (const h of images(a)) t.false(other.has(h));
  } finally {
    for (const d of [a, b, c]) rmSync(d, { recursive: true, force: true });
  }
});

test('train and held-out splits are disjoint, balanced, and load through the eval loader', async (t) => {
  const dir = tmp();
  try {
    const ds = await writeSyntheticDataset(dir, { seed: 11, trainCount: 80, heldOutCount: 40, format: 'png' });
    const seedsTrain = new Set(ds.train.map((r) => r.seed));
    t.is(seedsTrain.size, 80);
    for (const r of ds.heldOut) t.false(seedsTrain.has(r.seed), `held-out seed ${r.seed} is in train`);
    const hashes = new Set(ds.train.map((r) => sha(readFileSync(join(dir, r.image)))));
    for (const r of ds.heldOut) t.false(hashes.has(sha(readFileSync(join(dir, r.image)))), `${r.id} duplicates a train image`);
    // every 80 records: each answer letter 20 times, each modality and task equally often
    const count = (xs) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map());
    t.deepEqual([...count(ds.train.map((r) => r.answer)).values()], [20, 20, 20, 20]);
    t.deepEqual([...count(ds.train.map((r) => r.modality)).values()], [20, 20, 20, 20]);
    t.deepEqual([...count(ds.train.map((r) => r.task)).values()], [16, 16, 16, 16, 16]);
    for (const [file, want] of [[ds.trainFile, ds.train], [ds.heldOutFile, ds.heldOut]]) {
      const { records, problems } = loadMcqDataset(file);
      t.deepEqual(problems, []);
      t.is(records.length, want.length);
      records.forEach((r, i) => {
        t.is(r.image, join(dir, want[i].image));
        t.deepEqual([r.question, r.options, r.answer, r.modality, r.task], [want[i].question, want[i].options, want[i].answer, want[i].modality, want[i].task]);
      });
    }
    // the written PNGs (not the in-memory scenes) carry the answers
    for (const r of ds.heldOut.filter((x) => x.task !== 'modality')) {
      const img = await readPng(join(dir, r.image));
      t.is(img.channels, r.modality === 'fundus' ? 3 : 1, `${r.id} channels`);
      t.is(answerFromPixels(r.task, img), r.options[r.answer], r.id);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DICOM files read back with readDicom: meta, stored pixels and display equal the PNG', async (t) => {
  const dir = tmp();
  try {
    const ds = await writeSyntheticDataset(dir, { seed: 3, trainCount: 8, heldOutCount: 0, format: 'both' });
    const wantModality = { 'chest-radiograph': 'CR', ct: 'CT', fundus: 'OP', ultrasound: 'US' };
    for (const r of ds.train) {
      const file = join(dir, r.dicom);
      const bytes = readFileSync(file);
      t.is(bytes.subarray(128, 132).toString('latin1'), 'DICM');
      const px = await readDicom(file);
      const { data: png, ...info } = await readPng(join(dir, r.image));
      const rgb = r.modality === 'fundus';
      t.like(px.meta, {
        rows: info.height, columns: info.width, frames: 1, samplesPerPixel: rgb ? 3 : 1, photometricInterpretation: rgb ? 'RGB' : 'MONOCHROME2',
        bitsAllocated: 8, bitsStored: 8, highBit: 7, pixelRepresentation: 0, transferSyntaxUid: '1.2.840.10008.1.2.1', modality: wantModality[r.modality],
      });
      t.is(info.channels, rgb ? 3 : 1);
      t.deepEqual(Array.from(px.stored), Array.from(png), `${r.id} stored pixels`);
      const display = await dicomToRgb(file);
      const pngRgb = rgb ? png : Buffer.from(Array.from(png).flatMap((v) => [v, v, v]));
      t.deepEqual(Buffer.from(display.data), Buffer.from(pngRgb), `${r.id} display pixels`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DICOM files read back with pydicom (skipped when it is not installed)', async (t) => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pydicom'], { stdio: 'pipe' });
  } catch (e) {
    t.log(`skipped: /usr/bin/python3 cannot import pydicom (${String(e.stderr ?? e.message).trim().split('\n').pop()})`);
    t.pass();
    return;
  }
  const dir = tmp();
  try {
    const ds = await writeSyntheticDataset(dir, { seed: 4, trainCount: 4, heldOutCount: 0, format: 'dicom' });
    const script = `import sys, json, pydicom, hashlib
out = []
for f in sys.argv[1:]:
    d = pydicom.dcmread(f)  # strict enough to fail on a bad preamble, meta or length
    a = d.pixel_array
    out.append([d.file_meta.MediaStorageSOPClassUID, d.SOPClassUID, d.Modality, d.PhotometricInterpretation, list(a.shape), hashlib.sha256(a.astype('uint8').tobytes()).hexdigest()])
print(json.dumps([pydicom.__version__, out]))`;
    const files = ds.train.map((r) => join(dir, r.image));
    const [version, got] = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, ...files], { encoding: 'utf8' }));
    t.log(`pydicom ${version} read ${files.length} files`);
    for (let i = 0; i < files.length; i++) {
      const px = await readDicom(files[i]);
      const shape = px.meta.samplesPerPixel === 3 ? [px.meta.rows, px.meta.columns, 3] : [px.meta.rows, px.meta.columns];
      t.deepEqual(got[i].slice(0, 5), ['1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.5.1.4.1.1.7', px.meta.modality, px.meta.photometricInterpretation, shape]);
      t.is(got[i][5], sha(Uint8Array.from(px.stored)), `${files[i]} pixels`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('DICOM files pass dciodvfy (dicom3tools) without errors (skipped when it is not installed)', async (t) => {
  try {
    execFileSync('dciodvfy', [], { stdio: 'pipe' });
  } catch (e) {
    if (e.code === 'ENOENT') { t.log('skipped: dciodvfy (dicom3tools) is not on PATH'); t.pass(); return; }
  }
  const dir = tmp();
  try {
    const ds = await writeSyntheticDataset(dir, { seed: 8, trainCount: 4, heldOutCount: 0, format: 'dicom' });
    for (const r of ds.train) {
      // dciodvfy reports on stderr and exits 0 even when it finds errors
      const res = spawnSync('dciodvfy', ['-new', join(dir, r.image)], { encoding: 'utf8' });
      const report = res.stdout + res.stderr;
      t.regex(report, /SCImage/, `${r.id}: recognised as a Secondary Capture image`);
      t.deepEqual(report.split('\n').filter((l) => /^Error/.test(l)), [], `${r.id} (${r.modality})`);
    }
    t.log(`dciodvfy: ${ds.train.length} files, no errors`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('reasoningTrace: short, well formed, names the deciding evidence, and is paid by the rewards', (t) => {
  const evidence = {
    'Left half only': /left half/, 'Right half only': /right half/, 'Both halves': /both/, 'None visible': /No bright/,
    'Upper left': /upper left quadrant/, 'Lower right': /lower right quadrant/, 'CT slice': /CT slice/, 'Fundus photograph': /fundus/,
  };
  for (let s = 0; s < 120; s++) {
    const ex = generateSyntheticExample(s, { shuffleOptions: s % 2 === 1 });
    const trace = reasoningTrace(ex);
    t.true(trace.length <= 110, `${trace.length} characters: ${trace}`);
    t.regex(trace, new RegExp(`^<think>[^<]+</think><answer>${ex.answer}</answer>$`));
    t.is(rewards.format(trace), 0.5, trace);
    t.is(rewards.accuracy(trace, ex.answer), 1, trace);
    t.is(parseAnswer(trace, { options: ex.options }).letter, ex.answer);
    const text = ex.options[ex.answer];
    if (evidence[text] && ex.task !== 'count') t.regex(trace, evidence[text], `${ex.task}: ${trace}`);
    if (ex.task === 'count') t.regex(trace, text === '1' ? /one separate/ : new RegExp(`count ${text} `));
  }
  t.throws(() => reasoningTrace({ task: 'colour', modality: 'ct', options: { A: 'x' }, answer: 'A' }), { message: /unknown synthetic task "colour"/ });
  t.throws(() => reasoningTrace({ task: 'count', modality: 'ct', options: { A: '7' }, answer: 'A' }), { message: /answer A \("7"\) is not a count option/ });
});

test('writeSyntheticDataset: bad options are refused with the field named', async (t) => {
  const dir = tmp();
  try {
    const ok = { seed: 1, trainCount: 1, heldOutCount: 1, format: 'png' };
    await t.throwsAsync(writeSyntheticDataset(dir, { ...ok, seed: 1.5 }), { message: /'seed' must be an integer/ });
    await t.throwsAsync(writeSyntheticDataset(dir, { ...ok, trainCount: -1 }), { message: /'trainCount' must be an integer ≥ 0/ });
    await t.throwsAsync(writeSyntheticDataset(dir, { ...ok, heldOutCount: '3' }), { message: /'heldOutCount'/ });
    await t.throwsAsync(writeSyntheticDataset(dir, { ...ok, format: 'jpeg' }), { message: /'format' must be 'png', 'dicom' or 'both'/ });
    await t.throwsAsync(writeSyntheticDataset(dir, { ...ok, size: 20 }), { message: /'size' must be an integer in 64..512/ });
    await t.throwsAsync(writeSyntheticDataset(dir, { ...ok, shuffleOptions: 'yes' }), { message: /'shuffleOptions' must be a boolean/ });
    t.throws(() => generateSyntheticExample(1, { answerClass: 4 }), { message: /'answerClass' must be 0, 1, 2 or 3, got 4/ });
    t.throws(() => generateSyntheticExample(1, { modality: 'mri' }), { message: /'modality' must be one of chest-radiograph, ct, fundus, ultrasound, got "mri"/ });
    t.throws(() => generateSyntheticExample(1, { task: 'colour' }), { message: /'task' must be one of modality, side, count, quadrant, largest/ });
    t.throws(() => generateSyntheticExample(-0.5), { message: /'seed' must be an integer/ });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
