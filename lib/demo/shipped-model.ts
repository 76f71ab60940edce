// The demo model the package ships: models/gmai-demo/, trained by `gmai demo train` (its
// demo.json records the synthetic data set it learned), and the held-out questions of that set,
// redrawn from their seeds so the package carries no images.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { balancedChoice, encodePng, generateSyntheticExample, splitSeeds, type SyntheticExample } from '../data/synthetic/dataset.js';

/** models/gmai-demo at the package root (this file is dist/demo/shipped-model.js). */
export const SHIPPED_DEMO_MODEL = fileURLToPath(new URL('../../models/gmai-demo', import.meta.url));

export interface ShippedDemoInfo {
  data: { seed: number; trainCount: number; heldOutCount: number; size: number };
  sft: { accuracy: number; formatRate: number } | null;
  grpo: { accuracy: number; formatRate: number };
  chance: number;
}

/** The shipped model's folder, or undefined when the package has none (a trimmed install). */
export function shippedDemoModel(dir = SHIPPED_DEMO_MODEL): string | undefined {
  return existsSync(join(dir, 'config.json')) && existsSync(join(dir, 'demo.json')) ? dir : undefined;
}

export function readDemoInfo(dir: string): ShippedDemoInfo {
  const file = join(dir, 'demo.json');
  const info = JSON.parse(readFileSync(file, 'utf8')) as ShippedDemoInfo;
  const d = info?.data;
  if (!d || ![d.seed, d.trainCount, d.heldOutCount, d.size].every(Number.isSafeInteger)) {
    throw new Error(`${file}: 'data' must hold the integers seed, trainCount, heldOutCount and size`);
  }
  return info;
}

/**
 * The `index`-th held-out question of the model's data set, exactly as writeSyntheticDataset
 * wrote it (held-out seeds never coincide with a train seed, at any index), with its PNG.
 */
export async function heldOutQuestion(info: ShippedDemoInfo, index: number): Promise<{ example: SyntheticExample; png: Buffer }> {
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`held-out question index must be an integer ≥ 0, got ${index}`);
  const { seed, trainCount, size } = info.data;
  const seeds = splitSeeds(seed, trainCount, index + 1).heldOut;
  const example = generateSyntheticExample(seeds[index], { size, ...balancedChoice(index) });
  return { example, png: await encodePng(example.scene) };
}
