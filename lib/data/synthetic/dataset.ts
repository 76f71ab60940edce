// Synthetic multiple-choice data set: seeded procedural images (./scenes.ts) with questions whose
// answers follow from the pixels (./tasks.ts), written as PNG and/or DICOM with JSONL records in
// the layout `gmai eval` reads (lib/eval/dataset.ts), split into train and held-out sets.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { LETTERS } from '../../eval/dataset.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { SECONDARY_CAPTURE_IMAGE_STORAGE, uidFromKey, writeDicomImage } from '../../processing/dicom/write.js';
import { createRng, deriveSeed } from '../../random.js';
import { createAnatomy, MODALITIES, type Lesion, type Modality, type Scene } from './scenes.js';
import { placeLesions, questionText, TASK_OPTIONS, TASKS, type SyntheticTask } from './tasks.js';

export interface SyntheticExampleOptions {
  /** Image width and height in pixels (default 112). */
  size?: number;
  /** Shuffle the options per record (default false: each task's options in a fixed order). */
  shuffleOptions?: boolean;
  /** Fix the modality, task or answer class (0–3); drawn from the seed when absent. */
  modality?: Modality;
  task?: SyntheticTask;
  answerClass?: number;
}

export interface SyntheticExample {
  seed: number;
  modality: Modality;
  task: SyntheticTask;
  question: string;
  options: Record<string, string>;
  answer: string;
  /** The drawn geometry (pixels), for inspection; the answer follows from it. */
  lesions: Lesion[];
  scene: Scene;
}

export const DEFAULT_SIZE = 112;

/** One image and question, entirely determined by `seed` and the options. */
export function generateSyntheticExample(seed: number, opts: SyntheticExampleOptions = {}): SyntheticExample {
  const size = opts.size ?? DEFAULT_SIZE;
  validateExampleOptions(seed, opts);
  const rng = createRng(seed);
  const modality = opts.modality ?? rng.pick(MODALITIES);
  const task = opts.task ?? rng.pick(TASKS);
  // the modality question's answer is the modality itself
  const cls = task === 'modality' ? MODALITIES.indexOf(modality) : opts.answerClass ?? rng.int(0, 3);
  const anatomy = createAnatomy(modality, size, rng);
  const lesions = placeLesions(anatomy, task, cls, rng);
  const scene = anatomy.draw(lesions, rng);
  const order = opts.shuffleOptions ? rng.shuffle([0, 1, 2, 3]) : [0, 1, 2, 3];
  const options = Object.fromEntries(order.map((k, slot) => [LETTERS[slot], TASK_OPTIONS[task][k]]));
  return { seed, modality, task, question: questionText(task, modality), options, answer: LETTERS[order.indexOf(cls)], lesions, scene };
}

function validateExampleOptions(seed: number, opts: SyntheticExampleOptions): void {
  const where = 'generateSyntheticExample';
  if (!Number.isSafeInteger(seed)) throw new TypeError(`${where}: 'seed' must be an integer, got ${seed}`);
  if (opts.size !== undefined && !(Number.isInteger(opts.size) && opts.size >= 64 && opts.size <= 512)) throw new TypeError(`${where}: 'size' must be an integer in 64..512, got ${opts.size}`);
  if (opts.modality !== undefined && !MODALITIES.includes(opts.modality)) throw new TypeError(`${where}: 'modality' must be one of ${MODALITIES.join(', ')}, got ${JSON.stringify(opts.modality)}`);
  if (opts.task !== undefined && !TASKS.includes(opts.task)) throw new TypeError(`${where}: 'task' must be one of ${TASKS.join(', ')}, got ${JSON.stringify(opts.task)}`);
  if (opts.answerClass !== undefined && !(Number.isInteger(opts.answerClass) && opts.answerClass >= 0 && opts.answerClass <= 3)) throw new TypeError(`${where}: 'answerClass' must be 0, 1, 2 or 3, got ${opts.answerClass}`);
}

// ---- files -------------------------------------------------------------------------------------------

export type SyntheticFormat = 'png' | 'dicom' | 'both';

export interface SyntheticDatasetOptions {
  seed: number;
  trainCount: number;
  heldOutCount: number;
  format: SyntheticFormat;
  size?: number;
  shuffleOptions?: boolean;
}

/** One JSONL line: what `gmai eval` reads, plus the generator's own fields. */
export interface SyntheticRecord {
  id: string;
  /** Relative to the JSONL file: the PNG, or the DICOM when format is 'dicom'. */
  image: string;
  /** The DICOM file when format is 'both'. */
  dicom?: string;
  question: string;
  options: Record<string, string>;
  answer: string;
  modality: Modality;
  task: SyntheticTask;
  /** The example's own seed (generateSyntheticExample(seed, …) redraws it). */
  seed: number;
}

export interface SyntheticDataset {
  trainFile: string;
  heldOutFile: string;
  train: SyntheticRecord[];
  heldOut: SyntheticRecord[];
}

/** DICOM Modality (0008,0060) per synthetic modality. */
const DICOM_MODALITY: Record<Modality, string> = { 'chest-radiograph': 'CR', ct: 'CT', fundus: 'OP', ultrasound: 'US' };

export function encodePng(scene: Scene): Promise<Buffer> {
  return sharp(Buffer.from(scene.data.buffer, scene.data.byteOffset, scene.data.byteLength), { raw: { width: scene.width, height: scene.height, channels: scene.channels } })
    .toColourspace(scene.channels === 1 ? 'b-w' : 'srgb')  // a grey PNG for grey images (sharp would write RGB)
    .png({ compressionLevel: 9 })
    .toBuffer();
}

/**
 * A Secondary Capture DICOM (Conversion Type SYN: a synthetic image) with the modality's code.
 * Grey images carry the window 128/256, under which the displayed values equal the stored ones.
 */
export function encodeDicom(example: Pick<SyntheticExample, 'seed' | 'modality' | 'scene'>): Buffer {
  const { scene } = example;
  const uid = (what: string) => uidFromKey(`gmai synthetic ${example.seed} ${what}`);
  return writeDicomImage({
    rows: scene.height, columns: scene.width, photometric: scene.channels === 3 ? 'RGB' : 'MONOCHROME2', pixels: scene.data,
    modality: DICOM_MODALITY[example.modality], patientId: 'SYNTHETIC', laterality: '', sopClassUid: SECONDARY_CAPTURE_IMAGE_STORAGE,
    sopInstanceUid: uid('instance'), seriesInstanceUid: uid('series'), studyInstanceUid: uid('study'),
    window: scene.channels === 1 ? { center: 128, width: 256 } : undefined,
    extra: [[0x00080064, 'CS', 'SYN']],
  });
}

/**
 * The record seeds of both splits: derived from `seed`, the split and the index, held-out seeds
 * skipping any that a train record has, so the two sets never share an image.
 */
export function splitSeeds(seed: number, trainCount: number, heldOutCount: number): { train: number[]; heldOut: number[] } {
  const train = Array.from({ length: trainCount }, (_, i) => deriveSeed('gmai-synthetic', seed, 'train', i));
  const taken = new Set(train);
  const heldOut: number[] = [];
  for (let i = 0; heldOut.length < heldOutCount; i++) {
    const s = deriveSeed('gmai-synthetic', seed, 'held-out', i);
    if (!taken.has(s)) { heldOut.push(s); taken.add(s); }
  }
  return { train, heldOut };
}

/**
 * Modality, task and answer class of the i-th record: every 80 records hold each (modality, task,
 * class) once, and any 4 consecutive records have 4 different classes, so chance is 1/4 even for
 * small sets.
 */
export function balancedChoice(i: number): { modality: Modality; task: SyntheticTask; answerClass: number } {
  return { modality: MODALITIES[i % 4], task: TASKS[Math.floor(i / 4) % 5], answerClass: (i + Math.floor(i / 20)) % 4 };
}

function validate(opts: SyntheticDatasetOptions): void {
  if (!opts || typeof opts !== 'object') throw new TypeError('writeSyntheticDataset: options must be an object');
  if (!Number.isSafeInteger(opts.seed)) throw new TypeError(`writeSyntheticDataset: 'seed' must be an integer, got ${opts.seed}`);
  for (const key of ['trainCount', 'heldOutCount'] as const) {
    if (!Number.isSafeInteger(opts[key]) || opts[key] < 0) throw new TypeError(`writeSyntheticDataset: '${key}' must be an integer ≥ 0, got ${opts[key]}`);
  }
  if (!['png', 'dicom', 'both'].includes(opts.format)) throw new TypeError(`writeSyntheticDataset: 'format' must be 'png', 'dicom' or 'both', got ${JSON.stringify(opts.format)}`);
  if (opts.size !== undefined && !(Number.isInteger(opts.size) && opts.size >= 64 && opts.size <= 512)) throw new TypeError(`writeSyntheticDataset: 'size' must be an integer in 64..512, got ${opts.size}`);
  if (opts.shuffleOptions !== undefined && typeof opts.shuffleOptions !== 'boolean') throw new TypeError(`writeSyntheticDataset: 'shuffleOptions' must be a boolean, got ${JSON.stringify(opts.shuffleOptions)}`);
}

const WRITE_BATCH = 16;

/**
 * Writes `dir/train.jsonl`, `dir/held-out.jsonl`, the images under `dir/images/` and
 * `dir/synthetic.json` (the options, to regenerate). Every file is written atomically; the same
 * options give byte-identical files.
 */
export async function writeSyntheticDataset(dir: string, opts: SyntheticDatasetOptions): Promise<SyntheticDataset> {
  validate(opts);
  const size = opts.size ?? DEFAULT_SIZE;
  await mkdir(join(dir, 'images'), { recursive: true });
  const seeds = splitSeeds(opts.seed, opts.trainCount, opts.heldOutCount);
  const writeSplit = async (split: 'train' | 'held-out', splitSeedList: number[]): Promise<SyntheticRecord[]> => {
    const records: SyntheticRecord[] = [];
    for (let start = 0; start < splitSeedList.length; start += WRITE_BATCH) {
      const writes: Promise<void>[] = [];
      for (let i = start; i < Math.min(start + WRITE_BATCH, splitSeedList.length); i++) {
        // drawing is synchronous (~5–15 ms at 112 px): let the event loop in between examples
        await new Promise<void>((r) => setImmediate(r));
        const ex = generateSyntheticExample(splitSeedList[i], { size, shuffleOptions: opts.shuffleOptions, ...balancedChoice(i) });
        const id = `${split}-${String(i).padStart(6, '0')}`;
        const png = `images/${id}.png`, dcm = `images/${id}.dcm`;
        if (opts.format !== 'dicom') writes.push(encodePng(ex.scene).then((b) => writeFileAtomic(join(dir, png), b)));
        if (opts.format !== 'png') writes.push(writeFileAtomic(join(dir, dcm), encodeDicom(ex)));
        records.push({
          id, image: opts.format === 'dicom' ? dcm : png, ...(opts.format === 'both' ? { dicom: dcm } : {}),
          question: ex.question, options: ex.options, answer: ex.answer, modality: ex.modality, task: ex.task, seed: ex.seed,
        });
      }
      await Promise.all(writes);
    }
    return records;
  };
  const train = await writeSplit('train', seeds.train);
  const heldOut = await writeSplit('held-out', seeds.heldOut);
  const trainFile = join(dir, 'train.jsonl'), heldOutFile = join(dir, 'held-out.jsonl');
  const jsonl = (records: SyntheticRecord[]) => records.map((r) => JSON.stringify(r) + '\n').join('');
  await writeFileAtomic(trainFile, jsonl(train));
  await writeFileAtomic(heldOutFile, jsonl(heldOut));
  await writeFileAtomic(join(dir, 'synthetic.json'), JSON.stringify({ generator: 'gmai-vl-r1 synthetic v1', ...opts, size, shuffleOptions: !!opts.shuffleOptions }, null, 2) + '\n');
  return { trainFile, heldOutFile, train, heldOut };
}
