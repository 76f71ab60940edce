// The five question types, each with four answer classes that all occur: which class a record
// gets is chosen first, then lesions are placed so that the image shows it. Also the templated
// reasoning traces (for SFT) that state the visual evidence behind each answer.
import type { Rng } from '../../random.js';
import { buildMultipleChoicePrompt } from '../../processing/prompt.js';
import { MODALITIES, type Anatomy, type Lesion, type Modality } from './scenes.js';

export const TASKS = ['modality', 'side', 'count', 'quadrant', 'largest'] as const;
export type SyntheticTask = (typeof TASKS)[number];

/** Option texts per task, in their canonical order (class k is option k). */
export const TASK_OPTIONS: Record<SyntheticTask, readonly string[]> = {
  modality: ['Chest radiograph', 'CT slice', 'Fundus photograph', 'Ultrasound image'],
  side: ['Left half only', 'Right half only', 'Both halves', 'None visible'],
  count: ['1', '2', '3', '4'],
  quadrant: ['Upper left', 'Upper right', 'Lower left', 'Lower right'],
  largest: ['Upper left', 'Upper right', 'Lower left', 'Lower right'],
};

const NOUNS: Record<Modality, { name: string; one: string; many: string }> = {
  'chest-radiograph': { name: 'chest radiograph', one: 'opacity', many: 'opacities' },
  ct: { name: 'CT slice', one: 'nodule', many: 'nodules' },
  fundus: { name: 'fundus photograph', one: 'exudate', many: 'exudates' },
  ultrasound: { name: 'ultrasound image', one: 'echogenic focus', many: 'echogenic foci' },
};

export function questionText(task: SyntheticTask, modality: Modality): string {
  const n = NOUNS[modality];
  switch (task) {
    case 'modality': return 'What kind of medical image is this?';
    case 'side': return `In which half of this ${n.name} are the bright ${n.many}?`;
    case 'count': return `How many bright ${n.many} are visible in this ${n.name}?`;
    case 'quadrant': return `Which quadrant of this ${n.name} contains the bright ${n.one}?`;
    case 'largest': return `Which quadrant of this ${n.name} contains the largest bright ${n.one}?`;
  }
}

// ---- lesion placement ------------------------------------------------------------------------------

type Half = 'left' | 'right' | 'any';
type Vertical = 'upper' | 'lower' | 'any';
interface Slot { half: Half; vertical: Vertical; radius: [number, number] }  // radius as a fraction of the size

// Sized for a tiny vision tower (14 px patches): at 112 px a NORMAL lesion is 10–15 px across.
// (At 0.03–0.05 whether the demo model learnt the finding questions varied from seed to seed.)
const NORMAL: [number, number] = [0.045, 0.065];
const COUNTED: [number, number] = [0.05, 0.055];
const SMALL: [number, number] = [0.035, 0.045];
const LARGE: [number, number] = [0.075, 0.085];  // area ≥ (0.075/0.045)² / 1.25 (aspect) ≈ 2.2 × any SMALL one
const QUADRANTS: [Half, Vertical][] = [['left', 'upper'], ['right', 'upper'], ['left', 'lower'], ['right', 'lower']];
/** Gap between a lesion's edge and the midline, and between two lesions, in pixels. */
const MARGIN = 2;
const GAP = 3;

/** The lesion slots that make `cls` the answer to `task`. */
function slotsFor(task: SyntheticTask, cls: number, rng: Rng): Slot[] {
  const any = (radius = NORMAL): Slot => ({ half: 'any', vertical: 'any', radius });
  switch (task) {
    case 'modality': return Array.from({ length: rng.int(0, 2) }, () => any());
    // one lesion size, so that the bright area alone already tells the count (easier to learn)
    case 'count': return Array.from({ length: cls + 1 }, () => any(COUNTED));
    case 'side': {
      const side = (half: Half): Slot => ({ half, vertical: 'any', radius: NORMAL });
      if (cls === 0) return Array.from({ length: rng.int(1, 2) }, () => side('left'));
      if (cls === 1) return Array.from({ length: rng.int(1, 2) }, () => side('right'));
      if (cls === 2) return [side('left'), side('right'), ...(rng.next() < 0.5 ? [side(rng.pick(['left', 'right'] as const))] : [])];
      return [];
    }
    case 'quadrant': {
      const [half, vertical] = QUADRANTS[cls];
      return [{ half, vertical, radius: NORMAL }];
    }
    case 'largest': {
      const others = rng.shuffle([0, 1, 2, 3].filter((q) => q !== cls)).slice(0, rng.int(1, 3));
      return [cls, ...others].map((q, k) => ({ half: QUADRANTS[q][0], vertical: QUADRANTS[q][1], radius: k === 0 ? LARGE : SMALL }));
    }
  }
}

function inSlot(slot: Slot, size: number, x: number, y: number, r: number): boolean {
  const mid = size / 2;
  if (slot.half === 'left' && x + r > mid - MARGIN) return false;
  if (slot.half === 'right' && x - r < mid + MARGIN) return false;
  if (slot.vertical === 'upper' && y + r > mid - MARGIN) return false;
  if (slot.vertical === 'lower' && y - r < mid + MARGIN) return false;
  return true;
}

/**
 * Lesions for the slots, inside the anatomy and apart from each other (rejection sampling with
 * restarts; deterministic for a given rng). Throws if the anatomy leaves no room, which the
 * sizes above rule out in practice (the tests generate thousands of records).
 */
export function placeLesions(anatomy: Anatomy, task: SyntheticTask, cls: number, rng: Rng): Lesion[] {
  const size = anatomy.size;
  for (let restart = 0; restart < 50; restart++) {
    const slots = slotsFor(task, cls, rng);
    const lesions: Lesion[] = [];
    for (const slot of slots) {
      for (let attempt = 0; attempt < 300; attempt++) {
        const r = rng.uniform(slot.radius[0], slot.radius[1]) * size;
        const aspect = rng.uniform(0.8, 1.2);
        const rx = r * Math.min(1, aspect), ry = r * Math.min(1, 1 / aspect);  // r bounds both radii
        const x = rng.uniform(r + 1, size - r - 1), y = rng.uniform(r + 1, size - r - 1);
        if (!inSlot(slot, size, x, y, r) || !anatomy.fits(x, y, r)) continue;
        if (lesions.some((o) => Math.hypot(o.x - x, o.y - y) < r + Math.max(o.rx, o.ry) + GAP)) continue;
        lesions.push({ x, y, rx, ry });
        break;
      }
    }
    if (lesions.length === slots.length) return lesions;
  }
  throw new Error(`synthetic data: no room for the lesions of a ${task} question (class ${cls}) in a ${anatomy.modality} image of ${size} px`);
}

// ---- reasoning traces -----------------------------------------------------------------------------

const MODALITY_EVIDENCE: Record<Modality, string> = {
  'chest-radiograph': 'Dark lung fields either side of a bright spine: a chest radiograph.',
  ct: 'A round body section on black, dark lungs, a bright vertebra: a CT slice.',
  fundus: 'Orange-red retina, a pale optic disc and vessels: a fundus photograph.',
  ultrasound: 'A fan-shaped field of grainy speckle: an ultrasound image.',
};

/** What a trace needs: the fields a synthetic record has in its JSONL line. */
export interface TraceRecord {
  task?: string;
  modality?: string;
  options: Record<string, string>;
  answer: string;
}

/**
 * The SFT target for a synthetic record: `<think>evidence</think><answer>X</answer>`, where the
 * evidence is the visual fact that decides the answer. Short on purpose (a tiny model learns it).
 * Throws for a record that is not from this generator.
 */
export function reasoningTrace(record: TraceRecord): string {
  const task = record.task as SyntheticTask, modality = record.modality as Modality;
  if (!TASKS.includes(task)) throw new Error(`reasoningTrace: unknown synthetic task ${JSON.stringify(record.task)}`);
  if (!MODALITIES.includes(modality)) throw new Error(`reasoningTrace: unknown synthetic modality ${JSON.stringify(record.modality)}`);
  const text = record.options[record.answer];
  const cls = TASK_OPTIONS[task].indexOf(text);
  if (cls < 0) throw new Error(`reasoningTrace: answer ${record.answer} (${JSON.stringify(text)}) is not a ${task} option`);
  const n = NOUNS[modality];
  const where = text.toLowerCase();
  let evidence: string;
  switch (task) {
    case 'modality': evidence = MODALITY_EVIDENCE[MODALITIES[cls]]; break;
    case 'side': evidence = [
      `Every bright ${n.one} lies in the left half of the image.`,
      `Every bright ${n.one} lies in the right half of the image.`,
      `Bright ${n.many} lie in both the left and the right half.`,
      `No bright ${n.one} is seen in either half.`,
    ][cls]; break;
    case 'count': evidence = cls === 0 ? `I see one separate bright ${n.one}.` : `I count ${cls + 1} separate bright ${n.many}.`; break;
    case 'quadrant': evidence = `The bright ${n.one} lies in the ${where} quadrant.`; break;
    case 'largest': evidence = `The largest bright ${n.one} lies in the ${where} quadrant.`; break;
  }
  return `<think>${evidence}</think><answer>${record.answer}</answer>`;
}

/**
 * Every text the synthetic data set puts in a prompt or a trace (each question with its options
 * in the default template, each trace): the corpus the demo's tokenizer learns its merges from.
 */
export function syntheticCorpus(): string[] {
  const out: string[] = [];
  const letters = ['A', 'B', 'C', 'D'];
  for (const task of TASKS)
    for (const modality of MODALITIES) {
      const options = Object.fromEntries(TASK_OPTIONS[task].map((o, k) => [letters[k], o]));
      out.push(buildMultipleChoicePrompt({ question: questionText(task, modality), options }));
      for (const answer of letters) out.push(reasoningTrace({ task, modality, options, answer }));
    }
  return out;
}
