// `gmai bench preprocess`: images/s of the image processor (lib/processing) from encoded bytes
// to pixel values, for a 512×512 16-bit DICOM and a 2000×1500 JPEG made in memory, at the
// pixel budget of Qwen2.5-VL's preprocessor_config (3136..12845056 pixels) and at 448² (what
// `gmai bench model` feeds the tower), with each stage's time and share: decode, resize,
// rescale+normalise+patchify. The check: preprocessing must stay far below one forward of the
// Qwen2.5-VL-3B vision tower on the same patch grid, bounded below by its matrix FLOPs over the
// fp32 peak measured in this run (ratio ≪ 1).
// Usage: gmai bench preprocess [--reps 9] [--quick] [--json FILE]
import sharp from 'sharp';
import { numberOption, parseCommand, stringOption, type CommandSpec } from '../cli/command.js';

export const preprocessBenchCommand: CommandSpec = {
  name: 'bench preprocess',
  summary: 'Images/s of the image processor from encoded bytes to pixel values, per stage, against one vision-tower forward.',
  options: {
    reps: { type: 'string', value: 'N', description: 'repetitions per case (default 9, 1 with --quick)' },
    quick: { type: 'boolean', description: 'one repetition (a smoke run)' },
    json: { type: 'string', value: 'FILE', description: 'also write the results as JSON' },
  },
};
import { decodeImage } from '../processing/image-decode.js';
import { patchify, preprocessImage, resizeForModel, resolveImageOptions } from '../processing/image.js';
import type { ImageOptions } from '../processing/processor.js';
import { bestMachine, formatTable, measureMachine, median, writeJsonAtomic } from './roofline.js';
import { syntheticChestDicom, syntheticPhotoJpeg } from './synthetic-images.js';
import { VISION_3B, visionTowerFlops } from './vision-flops.js';

interface Case { input: string; bytes: Buffer; decodes: string; budget: string; options: ImageOptions }
interface Measured { stageMs: number[]; fullMs: number; grid: [number, number, number] }
interface Summary extends Case, Measured { resized: string; patches: number; sharePct: number[]; towerFlops: number; towerMinMs: number; ratioToTower: number }

const STAGES = ['decode', 'resize', 'rescale+normalise+patchify'];
// Qwen2.5-VL's preprocessor_config.json (3136..12845056); the library's own default, like
// transformers' class default, caps at 28·28·1280, but model folders override it with these.
const BUDGETS: [string, ImageOptions][] = [
  ['56²..3584²', { minPixels: 56 * 56, maxPixels: 3584 * 3584 }],
  ['448²', { minPixels: 448 * 448, maxPixels: 448 * 448 }],
];

const msSince = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

/** Medians over `reps` of each stage, run in sequence on one image, and of a whole preprocessImage call. */
async function measure(c: Case, reps: number): Promise<Measured> {
  const o = resolveImageOptions(c.options);
  const { gridThw } = await preprocessImage(c.bytes, c.options);  // warm-up: DICOM module, JIT, buffers
  const stages: number[][] = STAGES.map(() => []), full: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t = process.hrtime.bigint();
    const rgb = await decodeImage(c.bytes);
    stages[0].push(msSince(t)); t = process.hrtime.bigint();
    const resized = resizeForModel(rgb, o);
    stages[1].push(msSince(t)); t = process.hrtime.bigint();
    patchify(resized, o);
    stages[2].push(msSince(t)); t = process.hrtime.bigint();
    await preprocessImage(c.bytes, c.options);
    full.push(msSince(t));
  }
  return { stageMs: stages.map(median), fullMs: median(full), grid: gridThw };
}

/** Stage shares and the tower comparison: its matrix FLOPs on this grid over the peak. */
function summarise(m: Case & Measured, peakGflops: number): Summary {
  const [, gh, gw] = m.grid, P = VISION_3B.patch_size;
  const stageSum = m.stageMs.reduce((a, b) => a + b, 0);
  const towerFlops = visionTowerFlops(VISION_3B, { t: 1, h: gh, w: gw });
  const towerMinMs = towerFlops / peakGflops / 1e6;
  return { ...m, resized: `${gh * P}×${gw * P}`, patches: gh * gw, sharePct: m.stageMs.map((ms) => (100 * ms) / stageSum), towerFlops, towerMinMs, ratioToTower: m.fullMs / towerMinMs };
}

/** JSON rows: one per stage, then the whole call with images/s and the tower comparison. */
function jsonRows(s: Summary) {
  const shape = `${s.input} → ${s.resized} (${s.patches} patches), ${s.budget} budget`;
  const dtypes = [s.decodes, 'uint8 RGB', 'uint8 → float32'];
  return [
    ...STAGES.map((kernel, i) => ({ kernel, shape, dtype: dtypes[i], ms: s.stageMs[i], sharePct: s.sharePct[i] })),
    { kernel: 'preprocessImage', shape, dtype: 'bytes → float32', ms: s.fullMs, imagesPerS: 1000 / s.fullMs, patches: s.patches,
      towerGflop: s.towerFlops / 1e9, towerMinMs: s.towerMinMs, ratioToTower: s.ratioToTower },
  ];
}

export async function run(argv: string[]): Promise<number> {
  const args = parseCommand(preprocessBenchCommand, argv);
  if (!args) return 0;
  const quick = args.quick === true;
  const reps = numberOption(args, 'reps', quick ? 1 : 9, { integer: true, min: 1 });
  const say = (s: string) => process.stderr.write(`${s}\n`);
  sharp.cache(false);  // every rep decodes afresh, as distinct images would
  say('measuring the fp32 peak …');
  let machine = measureMachine({ bandwidthMB: 64, reps: quick ? 1 : 3 });  // only the peak is used
  say('making the inputs: 512×512 DICOM, 2000×1500 JPEG …');
  const dicom = syntheticChestDicom(512), jpeg = await syntheticPhotoJpeg(2000, 1500);
  const inputs = [
    { input: 'DICOM 512×512 CR, 16-bit', bytes: dicom, decodes: 'uint16 → uint8 RGB' },
    { input: `JPEG 2000×1500 q90, ${(jpeg.length / 1024).toFixed(0)} KiB`, bytes: jpeg, decodes: 'JPEG → uint8 RGB' },
  ];
  const cases: Case[] = inputs.flatMap((i) => BUDGETS.map(([budget, options]) => ({ ...i, budget, options })));
  const results: (Case & Measured)[] = [];
  for (const c of cases) {
    say(`${c.input}, ${c.budget} pixel budget: ${reps} rep(s) …`);
    results.push({ ...c, ...(await measure(c, reps)) });
  }
  machine = bestMachine(machine, measureMachine({ bandwidthMB: 64, reps: quick ? 1 : 3 }));

  const summaries = results.map((r) => summarise(r, machine.peakGflops));
  const rows = summaries.flatMap(jsonRows);
  const f = (x: number, d = 1) => x.toFixed(d);
  process.stdout.write(`\nPreprocessing benchmark, one image at a time, ${machine.threads} pool threads / ${sharp.concurrency()} libvips threads (${machine.isa}); ` +
    `measured fp32 peak ${f(machine.peakGflops)} GFLOP/s\n` +
    `tower ≥: Qwen2.5-VL-3B vision tower matrix FLOPs on the same patch grid ÷ that peak (a lower bound on its forward)\n\n`);
  process.stdout.write(formatTable(['input', 'budget', 'resized', 'patches', 'images/s', 'ms', ...STAGES.map((s) => `${s} ms (%)`), 'tower ≥ ms', 'ms ÷ tower ≥'],
    summaries.map((s) => [s.input, s.budget, s.resized, s.patches, f(1000 / s.fullMs), f(s.fullMs, 2),
      ...s.stageMs.map((ms, i) => `${f(ms, 2)} (${f(s.sharePct[i], 0)}%)`), f(s.towerMinMs, 0), s.ratioToTower.toExponential(1)])));
  const worst = Math.max(...summaries.map((s) => s.ratioToTower));
  process.stdout.write(`\nlargest preprocessing ÷ tower lower bound: ${worst.toExponential(1)} (${worst < 0.1 ? 'well below 1: preprocessing never dominates' : 'NOT well below 1'})\n`);
  const json = stringOption(args, 'json');
  if (json) await writeJsonAtomic(json, rows.map((r) => ({ ...r, reps, threads: machine.threads, isa: machine.isa, peakGflops: machine.peakGflops })));
  return 0;
}
