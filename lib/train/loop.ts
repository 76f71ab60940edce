// What every training loop shares: the seeded data order (a permutation per epoch, so resuming
// needs only the position), the newest checkpoint of a run, the model it trains (its weights or
// LoRA adapters on it), the metrics log (JSONL, rewritten up to the checkpoint's step on resume),
// and callbacks for progress, notices and stopping.
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadMcqDataset, type McqRecord } from '../eval/dataset.js';
import { loadProcessor, type Processor } from '../processing/processor.js';
import { createRng, deriveSeed } from '../random.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { LoadedCheckpoint } from './checkpoint.js';
import { loadModel, type Model } from '../model/model.js';
import type { Tensor } from '../tensor.js';
import { ConfigError, readConfigFile, type Schema } from './config.js';
import { attachLora, TEXT_LORA_TARGETS, type LoraAdapters } from './lora.js';
import type { AdamW } from './optim.js';
import { trainablePredicate, type ParamSource } from './params.js';

export interface TrainCallbacks<M> {
  onStep?: (m: M) => void;
  /** One-line notices (bad records, resume, checkpoints, skipped steps). */
  onLog?: (line: string) => void;
  /** Stops the loop between steps (the newest checkpoint stays as it was). */
  signal?: AbortSignal;
}

/** What a checkpoint records about the loop (beside weights and optimiser state). */
export interface LoopState {
  /** Optimiser steps taken. */
  step: number;
  /** Records consumed so far (the data position). */
  consumed: number;
  seed: number;
  config: unknown;
}

/** Records in a seeded order, epoch after epoch: the k-th record drawn depends only on (seed, k). */
export class DataOrder {
  #epoch = -1;
  #perm: number[] = [];
  constructor(private readonly count: number, private readonly seed: number, private readonly label: string) {}

  /** Index of the record drawn at position `k` (0-based over the whole run). */
  at(k: number): number {
    const epoch = Math.floor(k / this.count);
    if (epoch !== this.#epoch) {
      this.#epoch = epoch;
      this.#perm = createRng(deriveSeed(this.label, this.seed, epoch)).shuffle(Array.from({ length: this.count }, (_, i) => i));
    }
    return this.#perm[k % this.count];
  }
}

/** `output/checkpoint-<highest step>` (a save killed between its two renames left `.previous`, which loadCheckpoint finds). */
export function latestCheckpoint(output: string): string | undefined {
  if (!existsSync(output)) return undefined;
  const steps = readdirSync(output).map((d) => /^checkpoint-(\d+)(\.previous)?$/.exec(d)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  return steps.length ? join(output, `checkpoint-${Math.max(...steps)}`) : undefined;
}

/** metrics.jsonl of a run: one line per step. */
export class MetricsLog<M extends { step: number }> {
  readonly history: M[] = [];
  constructor(readonly file: string) {}

  /** Keeps the lines of steps ≤ `upTo` (what the resumed checkpoint had seen) and rewrites the file with them. */
  async open(upTo: number): Promise<void> {
    const parse = (l: string): M[] => {
      try {
        return [JSON.parse(l) as M];
      } catch {
        return [];  // a line cut short by a crash (it came after the checkpoint anyway)
      }
    };
    if (upTo > 0 && existsSync(this.file)) this.history.push(...readFileSync(this.file, 'utf8').split('\n').filter(Boolean).flatMap(parse).filter((m) => m.step <= upTo));
    await writeFileAtomic(this.file, this.history.map((m) => JSON.stringify(m) + '\n').join(''));
  }

  append(m: M): void {
    this.history.push(m);
    appendFileSync(this.file, JSON.stringify(m) + '\n');
  }
}

/** Lets messages (an abort) reach this thread between steps, then throws if the run was stopped. */
export async function betweenSteps(signal?: AbortSignal): Promise<void> {
  await new Promise((r) => setImmediate(r));
  if (signal?.aborted) throw signal.reason ?? new Error('training aborted');
}

/** What every training loop's config has (COMMON_SCHEMA validates it). */
export interface CommonLoopConfig {
  /** Model folder (HF layout) to start from. */
  model: string;
  /** JSONL data (the layouts `gmai eval` reads). */
  data: string;
  /** Folder for checkpoints, metrics.jsonl and the curves. */
  output: string;
  learningRate: number;
  schedule: 'constant' | 'cosine';
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  /** Save a checkpoint every this many steps (and at the end). */
  saveEvery?: number;
  trainable: 'default' | 'all';
  /** Keep only each decoder layer's input during the forward and recompute the layer in backward (less memory, ~1/3 more compute). */
  activationCheckpointing?: boolean;
  /** Weights in memory while training (compute is float32 either way). */
  dtype?: 'float32' | 'bfloat16';
  /** Use the first N records (quick runs). */
  limit?: number;
  /**
   * Train LoRA adapters on the base model instead of its weights (`trainable` is then ignored):
   * checkpoints hold the adapter in PEFT's layout plus the optimizer and trainer state.
   */
  lora?: { r: number; alpha: number; dropout: number; targetModules: string[]; vision: string[] };
}

/**
 * What every loop does first: creates the output folder, finds the checkpoint to resume from
 * (when asked), loads the processor and reads the data set, logging each skipped record by line.
 */
export async function openLoop(config: CommonLoopConfig, resume: boolean, log: (line: string) => void):
  Promise<{ resumeFrom: string | undefined; processor: Processor; records: McqRecord[] }> {
  mkdirSync(config.output, { recursive: true });
  const resumeFrom = resume ? latestCheckpoint(config.output) : undefined;
  if (resume && !resumeFrom) log(`no checkpoint in ${config.output}: starting from ${config.model}`);
  const processor = await loadProcessor(config.model);
  const { records, problems } = loadMcqDataset(config.data, { limit: config.limit });
  for (const p of problems) log(`${config.data}:${p.line}: skipped: ${p.message}`);
  return { resumeFrom, processor, records };
}

/** Config keys every training loop has (each loop adds its own and its defaults). */
export const COMMON_SCHEMA: Schema = {
  model: { type: 'string', required: true },
  data: { type: 'string', required: true },
  output: { type: 'string', required: true },
  weightDecay: { type: 'number', min: 0, default: 0 },
  maxGradNorm: { type: 'number', min: 0, exclusiveMin: true, default: 1 },
  warmupSteps: { type: 'number', integer: true, min: 0, default: 0 },
  seed: { type: 'number', integer: true, min: 0, default: 0 },
  saveEvery: { type: 'number', integer: true, min: 1 },
  trainable: { type: 'enum', values: ['default', 'all'], default: 'default' },
  activationCheckpointing: { type: 'boolean', default: false },
  dtype: { type: 'enum', values: ['float32', 'bfloat16'] },
  limit: { type: 'number', integer: true, min: 1 },
  lora: {
    type: 'object',
    rules: {
      r: { type: 'number', integer: true, min: 1, required: true },
      alpha: { type: 'number', min: 0, exclusiveMin: true, required: true },
      dropout: { type: 'number', min: 0, max: 0.99, default: 0 },
      targetModules: { type: 'strings', default: [...TEXT_LORA_TARGETS] },
      vision: { type: 'strings', default: [] },
    },
  },
};

/** Reads and validates a loop's config file; its model, data and output paths are relative to the file. */
export function readLoopConfig<T extends { model: string; data: string; output: string }>(file: string, schema: Schema): T {
  const c = readConfigFile<T>(file, schema);
  const base = resolve(file, '..');
  return { ...c, model: resolve(base, c.model), data: resolve(base, c.data), output: resolve(base, c.output) };
}

/** The model a loop trains, what trains in it, and what its checkpoints hold. */
export interface TrainedModel extends Disposable {
  model: Model;
  /** The adapters, when the config has `lora`. */
  lora?: LoraAdapters;
  isTrainable: (name: string) => boolean;
  /** [name, tensor] of everything the optimizer updates. */
  trained: [string, Tensor][];
  /** Where gradients go: the model's weights or the adapters. */
  params: ParamSource;
  /** The weights or adapter part of saveCheckpoint's options. */
  saved(): { weights: Map<string, Tensor> } | { adapter: { tensors: Map<string, Tensor>; config: Record<string, unknown> } };
}

/**
 * Loads the model to train: the checkpoint's weights when resuming, else `model`. With `lora`
 * the base is always `model`, with fresh adapters attached: a resume restores them through the
 * optimizer state, whose fp32 masters are A and B themselves. `where` names the loop in errors.
 */
export async function openTrainedModel(config: CommonLoopConfig, ckpt: LoadedCheckpoint | undefined, where: string): Promise<TrainedModel> {
  const model = await loadModel(ckpt && !config.lora ? ckpt.dir : config.model, { dtype: config.dtype });
  let lora: LoraAdapters | undefined;
  try {
    lora = config.lora ? attachLora(model, { ...config.lora, seed: config.seed }) : undefined;
  } catch (e) {
    model.dispose();
    throw new ConfigError(`${where}: ${(e as Error).message.replace(/^lora: '/, "'lora.")}`);
  }
  const isTrainable = lora ? () => true : trainablePredicate(model.weights, config.trainable);
  return {
    model, lora, isTrainable,
    trained: lora ? lora.parameters() : model.parameters().filter(([name]) => isTrainable(name)),
    params: lora ?? model.weights,
    saved: () => (lora ? { adapter: { tensors: lora.params, config: lora.peftConfig(config.model) } } : { weights: model.weights.params }),
    [Symbol.dispose]: () => {
      lora?.dispose();
      model.dispose();
    },
  };
}

/** The loop state to continue from: the checkpoint's (its optimizer state loaded into `opt`), or a fresh one. */
export function resumeState(ckpt: LoadedCheckpoint | undefined, opt: AdamW, fresh: LoopState, log: (line: string) => void): LoopState {
  if (!ckpt) return fresh;
  if (!ckpt.optimizer) throw new Error(`${ckpt.dir} holds no optimizer state: it cannot be resumed exactly`);
  opt.loadState(ckpt.optimizer);
  ckpt.close();
  const state = ckpt.trainer as unknown as LoopState;
  log(`resumed from ${ckpt.dir} at step ${state.step}`);
  return state;
}
