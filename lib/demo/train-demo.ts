// `gmai demo train`: the GMAI-VL-R1 recipe in miniature, on a CPU. A tiny Qwen2.5-VL-shaped
// model (random weights) learns the seeded synthetic data set (lib/data/synthetic): first SFT on
// templated reasoning traces (`<think>evidence</think><answer>X</answer>`), then GRPO from the
// SFT checkpoint with accuracy + format rewards. Both models are scored on the held-out split
// with greedy decoding through the ordinary inference path (a model server, askImage,
// parseAnswer), and the result is written to demo-report.json. Every heavy part runs in a worker
// (trainSft, trainGrpo, startModelServer), so the calling thread stays free.
import { copyFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { SyntheticRecord } from '../data/synthetic/dataset.js';
import { reasoningTrace, syntheticCorpus, TASKS, type SyntheticTask } from '../data/synthetic/tasks.js';
import { writeFileAtomic } from '../io/atomic.js';
import { startModelServer } from '../infer/server.js';
import { trainGrpo, trainSft, writeSyntheticDatasetInWorker } from '../train/index.js';
import type { GrpoStepMetrics } from '../train/grpo-loop.js';
import type { SftStepMetrics } from '../train/sft-loop.js';
import { writeTinyModel } from './tiny-model.js';

export interface DemoTrainOptions {
  /** Folder for the data, both training runs, the final model and demo-report.json. */
  output: string;
  /** Seeds the data, the initial weights and both training runs (default 1). */
  seed?: number;
  /** Train questions in all: the first `trainCount − grpoCount` for SFT, the rest for GRPO. */
  trainCount?: number;
  /** Train questions kept for GRPO, unseen by SFT (so its rewards come from images the SFT model did not memorise). */
  grpoCount?: number;
  /**
   * The question types SFT has reasoning traces for (default: the four finding questions). GRPO
   * trains on every type with answer keys only, so a type left out here is learnt from rewards
   * alone (docs/training.md, "The demo task").
   */
  sftTasks?: readonly SyntheticTask[];
  heldOutCount?: number;
  /** Image side in pixels (default 112: 16 merged vision tokens per image). */
  size?: number;
  model?: {
    hidden?: number; layers?: number; visionDepth?: number;
    /** Decoder rotary base: the tiny model's 16-wide heads need a small one to tell image rows and columns apart. */
    ropeTheta?: number;
    /** BPE merges learned from the data set's texts (0: one token per byte). */
    merges?: number;
  };
  sft?: { epochs?: number; learningRate?: number; batchSize?: number };
  grpo?: {
    steps?: number; batchSize?: number; numGenerations?: number; learningRate?: number; beta?: number;
    temperature?: number; maxCompletionLength?: number;
    /** DAPO's dynamic sampling: prompt batches drawn per step at most (1: plain GRPO). */
    samplingRounds?: number;
  };
  /** Skip the held-out evaluation of the SFT model (the test only needs the reward curve). */
  skipSftEval?: boolean;
  onLog?: (line: string) => void;
  onSftStep?: (m: SftStepMetrics) => void;
  onGrpoStep?: (m: GrpoStepMetrics) => void;
  signal?: AbortSignal;
}

export interface HeldOutScore {
  accuracy: number;
  formatRate: number;
  /** Accuracy per question type (modality, side, count, quadrant, largest). */
  byTask: Record<string, number>;
}

export interface DemoExample {
  id: string;
  image: string;
  question: string;
  options: Record<string, string>;
  answer: string;
  text: string;
  letter: string | null;
}

export interface DemoReport {
  chance: number;
  heldOut: number;
  sft: HeldOutScore | null;
  grpo: HeldOutScore;
  model: { dir: string; hidden: number; layers: number; visionDepth: number; ropeTheta: number; merges: number; size: number; parameters?: number };
  data: { seed: number; trainCount: number; grpoCount: number; heldOutCount: number; size: number };
  /** The question types SFT had reasoning traces for (GRPO saw all of them). */
  sftTasks: string[];
  seconds: { data: number; sft: number; sftEval: number; grpo: number; grpoEval: number; total: number };
  grpoReward: { first: number; last: number };
  example: DemoExample;
}

/** The demo's settings, measured on 2 CPU cores (see docs/training.md). */
export const DEMO_DEFAULTS = {
  seed: 1, trainCount: 2800, grpoCount: 400, heldOutCount: 400, size: 112,
  // The cold start has reasoning traces for the four finding questions only; GRPO sees every
  // question type with answer keys alone, so the modality question is learnt from rewards.
  sftTasks: ['side', 'count', 'quadrant', 'largest'] as readonly SyntheticTask[],
  model: { hidden: 64, layers: 2, visionDepth: 2, ropeTheta: 10, merges: 512 },
  sft: { epochs: 32, learningRate: 1e-3, batchSize: 4 },
  // Traces are ≤ 29 tokens with the learned merges: 48 always reach '</answer>'.
  // After 32 epochs of SFT the policy is nearly deterministic (entropy ~0.05 nats per token):
  // most groups of 8 rollouts agree, all right or all wrong, and have zero advantage. So the
  // rollouts sample at τ 1.5, and up to 4 batches of prompts are rolled out per step with the
  // groups that disagree filling the batch first (DAPO's dynamic sampling).
  grpo: { steps: 500, batchSize: 4, numGenerations: 8, learningRate: 3e-4, beta: 0.04, temperature: 1.5, maxCompletionLength: 48, samplingRounds: 4 },
};

/** The files a model folder needs (checkpoints also hold optimizer and trainer state). */
const MODEL_FILES = /^(config\.json|generation_config\.json|preprocessor_config\.json|tokenizer(_config)?\.json|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json)$/;

/** Copies the model files of a checkpoint (no optimizer state) into `dir`. */
export async function exportModel(checkpoint: string, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const f of await readdir(checkpoint)) if (MODEL_FILES.test(f)) await copyFile(join(checkpoint, f), join(dir, f));
  // GRPO's rollouts ended at '</answer>', so nothing after it was ever trained: the model's
  // generation config ends generation there too (transformers' stop_strings), as it was trained.
  const generationFile = join(dir, 'generation_config.json');
  const generation = JSON.parse(await readFile(generationFile, 'utf8'));
  await writeFileAtomic(generationFile, JSON.stringify({ ...generation, stop_strings: ['</answer>'] }, null, 2) + '\n');
}

/**
 * Greedy (temperature 0) answers of the model in `modelDir` to every record, through a model
 * server: accuracy (parsed letter = answer) and format rate (the R1 format parsed).
 */
export async function scoreHeldOut(modelDir: string, dataDir: string, records: SyntheticRecord[], maxNewTokens = 128):
  Promise<HeldOutScore & { answers: { letter: string | null; formatOk: boolean; text: string }[] }> {
  const server = await startModelServer(modelDir);
  try {
    const answers: { letter: string | null; formatOk: boolean; text: string }[] = [];
    for (const r of records) {
      const res = await server.askImage({ image: join(dataDir, r.image), question: r.question, options: r.options, generation: { maxNewTokens, temperature: 0 } });
      answers.push({ letter: res.letter, formatOk: res.formatOk, text: res.text });
    }
    const n = Math.max(1, records.length);
    const right = (i: number) => answers[i].letter === records[i].answer;
    const tally = new Map<string, [number, number]>();
    records.forEach((r, i) => {
      const t = tally.get(r.task) ?? [0, 0];
      tally.set(r.task, [t[0] + (right(i) ? 1 : 0), t[1] + 1]);
    });
    return {
      accuracy: records.filter((_, i) => right(i)).length / n,
      formatRate: answers.filter((a) => a.formatOk).length / n,
      byTask: Object.fromEntries(TASKS.filter((t) => tally.has(t)).map((t) => [t, tally.get(t)![0] / tally.get(t)![1]])),
      answers,
    };
  } finally {
    await server.close();
  }
}

export async function trainDemo(opts: DemoTrainOptions): Promise<DemoReport> {
  const log = opts.onLog ?? (() => {});
  const seed = opts.seed ?? DEMO_DEFAULTS.seed;
  const trainCount = opts.trainCount ?? DEMO_DEFAULTS.trainCount, grpoCount = opts.grpoCount ?? DEMO_DEFAULTS.grpoCount, heldOutCount = opts.heldOutCount ?? DEMO_DEFAULTS.heldOutCount;
  const size = opts.size ?? DEMO_DEFAULTS.size;
  const arch = { ...DEMO_DEFAULTS.model, ...opts.model };
  const sft = { ...DEMO_DEFAULTS.sft, ...opts.sft };
  const grpo = { ...DEMO_DEFAULTS.grpo, ...opts.grpo };
  const out = resolve(opts.output);
  const dataDir = join(out, 'data'), baseDir = join(out, 'base-model'), finalDir = join(out, 'model');
  const clock = () => performance.now() / 1000;
  const t0 = clock();

  if (!(Number.isSafeInteger(grpoCount) && grpoCount >= 1 && grpoCount < trainCount)) throw new RangeError(`trainDemo: 'grpoCount' must be an integer in 1..trainCount−1, got ${grpoCount}`);
  log(`data: ${trainCount} train (${trainCount - grpoCount} for SFT, ${grpoCount} for GRPO) + ${heldOutCount} held-out synthetic questions (${size} px, seed ${seed})`);
  const ds = await writeSyntheticDatasetInWorker(dataDir, { seed, trainCount, heldOutCount, format: 'png', size });
  // SFT targets: the same records with their templated reasoning trace as the assistant text.
  const sftFile = join(dataDir, 'sft.jsonl'), grpoFile = join(dataDir, 'grpo.jsonl');
  const sftTasks = opts.sftTasks ?? DEMO_DEFAULTS.sftTasks;
  for (const t of sftTasks) if (!TASKS.includes(t)) throw new RangeError(`trainDemo: 'sftTasks' has ${JSON.stringify(t)}, expected some of ${TASKS.join(', ')}`);
  const sftRecords = ds.train.slice(0, trainCount - grpoCount).filter((r) => sftTasks.includes(r.task));
  await writeFileAtomic(sftFile, sftRecords.map((r) => JSON.stringify({ ...r, response: reasoningTrace(r) }) + '\n').join(''));
  await writeFileAtomic(grpoFile, ds.train.slice(trainCount - grpoCount).map((r) => JSON.stringify(r) + '\n').join(''));
  const { merges, ...shape } = arch;
  await writeTinyModel(baseDir, { seed, ...shape, ...(merges ? { corpus: syntheticCorpus(), mergeCount: merges } : {}) });
  const t1 = clock();

  log(`SFT: ${sftRecords.length} traces (${sftTasks.join(", ")} questions), ${sft.epochs} epochs, lr ${sft.learningRate}, batch ${sft.batchSize}, all weights trainable`);
  const sftRun = await trainSft({
    model: baseDir, data: sftFile, output: join(out, 'sft'), epochs: sft.epochs, batchSize: sft.batchSize, maxTokens: 1 << 16,
    learningRate: sft.learningRate, schedule: 'cosine', warmupSteps: 5, weightDecay: 0, maxGradNorm: 1, seed, trainable: 'all', dtype: 'float32',
  }, { onStep: opts.onSftStep, onLog: log, signal: opts.signal });
  const t2 = clock();
  const sftScore = opts.skipSftEval ? null : await scoreHeldOut(sftRun.checkpoint, dataDir, ds.heldOut);
  if (sftScore) log(`SFT model on held-out: accuracy ${sftScore.accuracy.toFixed(3)}, format ${sftScore.formatRate.toFixed(3)}`);
  const t3 = clock();

  log(`GRPO: ${grpo.steps} steps × ${grpo.batchSize} prompts × G=${grpo.numGenerations}, lr ${grpo.learningRate}, β ${grpo.beta}, τ ${grpo.temperature}, ${grpo.samplingRounds > 1 ? `dynamic sampling (≤ ${grpo.samplingRounds} rounds), ` : ''}vision tower frozen`);
  const grpoRun = await trainGrpo({
    model: sftRun.checkpoint, data: grpoFile, output: join(out, 'grpo'), steps: grpo.steps, batchSize: grpo.batchSize,
    numGenerations: grpo.numGenerations, learningRate: grpo.learningRate, beta: grpo.beta, epsilon: 0.2, temperature: grpo.temperature, topP: 1,
    maxCompletionLength: grpo.maxCompletionLength, numIterations: 1, gradientAccumulationSteps: 1, lossType: 'grpo', importanceSamplingLevel: 'token',
    scaleRewards: 'group', rewardWeights: { accuracy: 1, format: 1 }, maxGradNorm: 1, weightDecay: 0, schedule: 'constant', warmupSteps: 0,
    // The vision tower stays as SFT left it (the recipe's default): trained too, GRPO's noisier
    // gradient wore down what it had learnt (side questions −18 points in one seed).
    seed, trainable: 'default', dtype: 'float32',
    ...(grpo.samplingRounds > 1 ? { dynamicSampling: { maxRounds: grpo.samplingRounds } } : {}),
  }, { onStep: opts.onGrpoStep, onLog: log, signal: opts.signal });
  const t4 = clock();
  await exportModel(grpoRun.checkpoint, finalDir);
  const grpoScore = await scoreHeldOut(finalDir, dataDir, ds.heldOut);
  log(`GRPO model on held-out: accuracy ${grpoScore.accuracy.toFixed(3)}, format ${grpoScore.formatRate.toFixed(3)}`);
  const t5 = clock();

  const h = grpoRun.metrics;
  const quarter = Math.max(1, Math.floor(h.length / 4));
  const meanReward = (ms: GrpoStepMetrics[]) => ms.reduce((s, m) => s + m.reward, 0) / Math.max(1, ms.length);
  const ex = ds.heldOut[0], exAnswer = grpoScore.answers[0];
  const report: DemoReport = {
    chance: 0.25,
    heldOut: ds.heldOut.length,
    sft: sftScore && { accuracy: sftScore.accuracy, formatRate: sftScore.formatRate, byTask: sftScore.byTask },
    grpo: { accuracy: grpoScore.accuracy, formatRate: grpoScore.formatRate, byTask: grpoScore.byTask },
    model: { dir: finalDir, ...arch, size },
    data: { seed, trainCount, grpoCount, heldOutCount, size },
    sftTasks: [...sftTasks],
    seconds: { data: t1 - t0, sft: t2 - t1, sftEval: t3 - t2, grpo: t4 - t3, grpoEval: t5 - t4, total: t5 - t0 },
    grpoReward: { first: meanReward(h.slice(0, quarter)), last: meanReward(h.slice(-quarter)) },
    example: ex && { id: ex.id, image: join(dataDir, ex.image), question: ex.question, options: ex.options, answer: ex.answer, text: exAnswer.text, letter: exAnswer.letter },
  };
  // What `gmai demo` needs to redraw held-out questions of this data set.
  await writeFileAtomic(join(finalDir, 'demo.json'), JSON.stringify({ generator: 'gmai demo train', data: report.data, sft: report.sft, grpo: report.grpo, chance: 0.25 }, null, 2) + '\n');
  await writeFileAtomic(join(out, 'demo-report.json'), JSON.stringify(report, null, 2) + '\n');
  return report;
}
