// Training checkpoints: a Hugging Face model folder (the loaded checkpoint's tensor names,
// shapes, dtypes and shard layout; its config, generation, tokenizer and processor files copied
// beside) plus the optimizer state (optimizer.safetensors) and the trainer state
// (trainer_state.json: step, RNG state, data position, config).
//
// Atomic as a folder. Everything is written into `<dir>.partial`, each file fsynced, then the
// folder fsynced; then a previous `<dir>` is renamed to `<dir>.previous`, `<dir>.partial` to
// `<dir>` (the parent fsynced after each rename) and `<dir>.previous` deleted. `<dir>` only ever
// appears by renaming a complete folder, so a crash or kill at any point leaves either the new
// checkpoint or the previous one complete: in `<dir>`, or (killed between the two renames) in
// `<dir>.previous`, where loadCheckpoint and the next saveCheckpoint find it.
// One writer per checkpoint folder at a time.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';

import { syncDirectory, syncFile, writeFileAtomic } from '../io/atomic.js';
import { readIndex } from '../io/safetensors-index.js';
import { openSafetensors, saveSafetensors, type SafetensorsReader } from '../io/safetensors.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE } from '../model/adapter.js';
import { cast } from '../ops/basic.js';
import { Tensor } from '../tensor.js';
import type { DType } from '../dtype.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';
const SINGLE_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
const TRAINER_FORMAT = 'gmai-trainer-state';

/** What the training loop needs to resume: anything JSON-serialisable besides `step`. */
export interface TrainerState {
  /** Optimizer steps taken. */
  step: number;
  /** e.g. the sampler's RNG state, the data position, the run's config. */
  [key: string]: unknown;
}

/** An optimizer's state as AdamW.state() gives it. */
export interface OptimizerState {
  tensors: ReadonlyMap<string, Tensor>;
  meta: unknown;
}

export interface SaveCheckpointOptions {
  /** Every weight of the model under its checkpoint (HF) name; converted to `like`'s dtypes. */
  weights?: ReadonlyMap<string, Tensor>;
  /**
   * Instead of `weights` (LoRA training): a PEFT adapter, written as adapter_model.safetensors
   * (tensors as given) and adapter_config.json; `like` is then only checked to be a folder.
   */
  adapter?: { tensors: ReadonlyMap<string, Tensor>; config: Record<string, unknown> };
  /** The model folder training started from: names, dtypes, shapes, shard layout and side files come from it. */
  like: string;
  optimizer?: OptimizerState;
  trainer: TrainerState;
}

/** Files of `like` that are not copied: weights (rewritten, or stale in other formats) and our own. */
function isCopiedSideFile(name: string): boolean {
  if (name.startsWith('.')) return false;
  if (name === TRAINER_STATE_FILE || name === OPTIMIZER_FILE) return false;
  return !/\.(safetensors|bin|pt|pth|ckpt|h5|msgpack|gguf|onnx)$/.test(name) && !/\.safetensors\.index\.json$/.test(name) &&
    !/\.bin\.index\.json$/.test(name);
}

interface ShardPlan {
  file: string;
  names: string[];
  metadata: Record<string, string>;
}

interface Layout {
  shards: ShardPlan[];
  /** The index's metadata (sharded layouts only; total_size is recomputed). */
  indexMetadata?: Record<string, string>;
  info: Map<string, { dtype: DType; shape: number[] }>;
}

/** The tensors of `like` and how they are split into files. */
function readLayout(like: string): Layout {
  const indexPath = join(like, INDEX_FILE);
  const sharded = existsSync(indexPath);
  if (!sharded && !existsSync(join(like, SINGLE_FILE))) {
    throw new Error(`saveCheckpoint: 'like' (${like}) has neither ${SINGLE_FILE} nor ${INDEX_FILE}`);
  }
  const info = new Map<string, { dtype: DType; shape: number[] }>();
  const fileMetadata = (file: string): Record<string, string> => {
    const r = openSafetensors(join(like, file));
    try {
      for (const n of r.keys()) {
        const { dtype, shape } = r.info(n);
        info.set(n, { dtype, shape });
      }
      return Object.keys(r.metadata).length ? { ...r.metadata } : { format: 'pt' };
    } finally {
      r.close();
    }
  };
  if (!sharded) {
    const metadata = fileMetadata(SINGLE_FILE);
    return { shards: [{ file: SINGLE_FILE, names: [...info.keys()].sort(), metadata }], info };
  }
  const index = readIndex(indexPath);
  const byFile = new Map<string, string[]>();
  for (const [name, file] of index.weightMap) byFile.set(file, [...(byFile.get(file) ?? []), name]);
  const shards = [...byFile.keys()].sort().map((file) => ({ file, names: byFile.get(file)!.sort(), metadata: fileMetadata(file) }));
  for (const [name, file] of index.weightMap) {
    if (!info.has(name)) throw new Error(`saveCheckpoint: ${indexPath} puts '${name}' in ${file}, which has no such tensor`);
  }
  return { shards, indexMetadata: index.metadata, info };
}

/** Checks `weights` against the layout: the same names, the same shapes. */
function checkWeights(layout: Layout, weights: ReadonlyMap<string, Tensor>, like: string): void {
  const missing = [...layout.info.keys()].filter((n) => !weights.has(n));
  const extra = [...weights.keys()].filter((n) => !layout.info.has(n));
  const list = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? `, … (${xs.length})` : '');
  if (missing.length) throw new Error(`saveCheckpoint: 'weights' lacks tensors of ${like}: ${list(missing)}`);
  if (extra.length) throw new Error(`saveCheckpoint: 'weights' has tensors that ${like} does not: ${list(extra)}`);
  for (const [name, t] of weights) {
    const want = layout.info.get(name)!;
    if (!(t instanceof Tensor)) throw new TypeError(`saveCheckpoint: weight '${name}' is not a Tensor`);
    if (t.shape.length !== want.shape.length || t.shape.some((d, i) => d !== want.shape[i])) {
      throw new RangeError(`saveCheckpoint: weight '${name}' is [${t.shape}] but ${like} has it [${want.shape}]`);
    }
    const floats: DType[] = ['float32', 'bfloat16', 'float16'];
    if (t.dtype !== want.dtype && !(floats.includes(t.dtype) && floats.includes(want.dtype))) {
      throw new TypeError(`saveCheckpoint: weight '${name}' is ${t.dtype} but ${like} stores it as ${want.dtype}`);
    }
  }
}

/** Writes one shard: each weight in the stored dtype, on the CPU, only for as long as the write. */
async function writeShard(path: string, shard: ShardPlan, layout: Layout, weights: ReadonlyMap<string, Tensor>): Promise<number> {
  const made: Tensor[] = [];
  const tensors = new Map<string, Tensor>();
  let bytes = 0;
  try {
    for (const name of shard.names) {
      let t = weights.get(name)!;
      const dtype = layout.info.get(name)!.dtype;
      if (t.dtype !== dtype) made.push((t = cast(t, dtype)));
      if (t.device !== 'cpu') made.push((t = t.to('cpu')));
      tensors.set(name, t);
      bytes += t.byteLength;
    }
    await saveSafetensors(path, tensors, shard.metadata);
  } finally {
    for (const t of made) t.dispose();
  }
  return bytes;
}

function trainerJson(trainer: TrainerState): string {
  if (typeof trainer !== 'object' || trainer === null) throw new TypeError("saveCheckpoint: 'trainer' must be an object with a 'step'");
  if (!Number.isInteger(trainer.step) || trainer.step < 0) {
    throw new RangeError(`saveCheckpoint: 'trainer.step' must be an integer >= 0, got ${String(trainer.step)}`);
  }
  for (const reserved of ['format', 'version']) {
    if (Object.hasOwn(trainer, reserved)) throw new TypeError(`saveCheckpoint: 'trainer.${reserved}' is reserved for the file's own format tag; use another key`);
  }
  try {
    return JSON.stringify({ format: TRAINER_FORMAT, version: 1, ...trainer }, null, 2) + '\n';
  } catch (e) {
    throw new TypeError(`saveCheckpoint: 'trainer' cannot be written as JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Test hook: GMAI_CHECKPOINT_TEST_PAUSE=<stage> stops the writer there (for kill tests). */
async function testPause(stage: 'files' | 'swap'): Promise<void> {
  if (process.env.GMAI_CHECKPOINT_TEST_PAUSE !== stage) return;
  process.stderr.write(`gmai-checkpoint-paused ${stage}\n`);
  await new Promise(() => setInterval(() => {}, 1 << 30));
}

/**
 * Writes a checkpoint folder `dir` atomically (see the top of this file), replacing a previous
 * checkpoint there. Tensors must stay alive until the promise settles.
 */
export async function saveCheckpoint(dir: string, opts: SaveCheckpointOptions): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new TypeError('saveCheckpoint: dir must be a non-empty path');
  const target = resolve(dir);
  const { weights, adapter, like, optimizer } = opts;
  if ((weights === undefined) === (adapter === undefined)) throw new TypeError("saveCheckpoint: give exactly one of 'weights' and 'adapter'");
  if (weights !== undefined && !(weights instanceof Map)) throw new TypeError("saveCheckpoint: 'weights' must be a Map of name → Tensor");
  if (adapter !== undefined && (!(adapter.tensors instanceof Map) || typeof adapter.config !== 'object' || adapter.config === null)) {
    throw new TypeError("saveCheckpoint: 'adapter' must be { tensors: Map of name → Tensor, config: object }");
  }
  if (typeof like !== 'string' || !isDirectory(like)) throw new Error(`saveCheckpoint: 'like' must be the model folder training started from, got ${String(like)}`);
  // `like` may be `dir` itself (resuming from it): everything is read from it before the swap.
  const trainerText = trainerJson(opts.trainer);
  const layout = weights ? readLayout(like) : undefined;
  if (layout) checkWeights(layout, weights!, like);
  // An adapter folder holds the adapter alone (PEFT loads the base from base_model_name_or_path).
  const sideFiles = layout ? readdirSync(like).filter((f) => isCopiedSideFile(f) && statSync(join(like, f)).isFile()) : [];

  const partial = `${target}.partial`, previous = `${target}.previous`, parent = dirname(target);
  await mkdir(parent, { recursive: true });
  await rm(partial, { recursive: true, force: true });  // left by a writer that died
  await mkdir(partial);

  // The files, in order; the trainer state goes last.
  const jobs: (() => Promise<void>)[] = [];
  let totalSize = 0;
  if (adapter) {
    jobs.push(() => withCpuCopies(adapter.tensors, (onCpu) => saveSafetensors(join(partial, ADAPTER_WEIGHTS_FILE), onCpu, { format: 'pt' })));
    jobs.push(() => writeFileAtomic(join(partial, ADAPTER_CONFIG_FILE), JSON.stringify(adapter.config, null, 2) + '\n'));
  }
  if (layout) for (const shard of layout.shards) jobs.push(async () => { totalSize += await writeShard(join(partial, shard.file), shard, layout, weights!); });
  if (layout?.indexMetadata) {
    jobs.push(async () => {
      const weightMap: Record<string, string> = {};
      for (const s of layout.shards) for (const n of s.names) weightMap[n] = s.file;
      const sorted = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const index = { metadata: { ...layout.indexMetadata, total_size: totalSize }, weight_map: sorted };
      await writeFileAtomic(join(partial, INDEX_FILE), JSON.stringify(index, null, 2) + '\n');
    });
  }
  if (optimizer) {
    let metaText: string;
    try {
      metaText = JSON.stringify(optimizer.meta);
    } catch (e) {
      throw new TypeError(`saveCheckpoint: 'optimizer.meta' cannot be written as JSON: ${(e as Error).message}`, { cause: e });
    }
    jobs.push(() => withCpuCopies(optimizer.tensors, (onCpu) => saveSafetensors(join(partial, OPTIMIZER_FILE), onCpu, { format: 'gmai-optimizer', state: metaText })));
  }
  for (const f of sideFiles) {
    jobs.push(async () => {
      await copyFile(join(like, f), join(partial, f));
      await syncFile(join(partial, f));
    });
  }
  jobs.push(() => writeFileAtomic(join(partial, TRAINER_STATE_FILE), trainerText));

  try {
    for (let i = 0; i < jobs.length; i++) {
      if (i === Math.floor(jobs.length / 2)) await testPause('files');
      await jobs[i]();
    }
    await syncDirectory(partial);
  } catch (e) {
    await rm(partial, { recursive: true, force: true }).catch(() => {});
    throw new Error(`saveCheckpoint: could not write ${target}: ${(e as Error).message}`, { cause: e });
  }

  // The swap: `target` is at every moment absent or complete, and a complete copy always exists.
  if (existsSync(target)) {
    await rm(previous, { recursive: true, force: true });  // stale: target is complete
    await rename(target, previous);
    await syncDirectory(parent);
    await testPause('swap');
  }
  await rename(partial, target);
  await syncDirectory(parent);
  await rm(previous, { recursive: true, force: true });
}

/** Runs `write` over the tensors on the CPU: device tensors through CPU copies, freed once written. */
export async function withCpuCopies(tensors: ReadonlyMap<string, Tensor>, write: (onCpu: Map<string, Tensor>) => Promise<void>): Promise<void> {
  const copies: Tensor[] = [];
  const onCpu = new Map<string, Tensor>();
  for (const [name, t] of tensors) {
    if (t.device !== 'cpu') copies.push(t.to('cpu'));
    onCpu.set(name, t.device === 'cpu' ? t : copies[copies.length - 1]);
  }
  try {
    await write(onCpu);
  } finally {
    for (const c of copies) c.dispose();
  }
}

function isDirectory(p: string): boolean {
  try { return statSync(p).isDirectory(); } catch { return false; }
}

/** The folder holding the complete checkpoint saved as `dir` (see the top of this file). */
export function resolveCheckpointDir(dir: string): string {
  const target = resolve(dir);
  if (isDirectory(target)) return target;
  if (isDirectory(`${target}.previous`)) return `${target}.previous`;
  throw new Error(`loadCheckpoint: no checkpoint at ${dir}`);
}

/** A loaded checkpoint. Dispose it (or close()) to release the optimizer tensors and the weights' mappings. */
export interface LoadedCheckpoint extends Disposable {
  /** The folder read: a model folder for loadModel (usually `dir` itself). */
  dir: string;
  trainer: TrainerState;
  /** Present when the checkpoint holds one: pass to AdamW.loadState. */
  optimizer?: { tensors: Map<string, Tensor>; meta: unknown };
  /** The weights, or a LoRA checkpoint's adapter tensors (memory-mapped, read on get()). */
  weights: SafetensorsReader;
  close(): void;
}

/** Opens the checkpoint saved as `dir` by saveCheckpoint. */
export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const at = resolveCheckpointDir(dir);
  const statePath = join(at, TRAINER_STATE_FILE);
  let trainer: TrainerState;
  try {
    const json = JSON.parse(await readFile(statePath, 'utf8')) as Record<string, unknown>;
    if (json.format !== TRAINER_FORMAT || json.version !== 1) throw new Error(`not a ${TRAINER_FORMAT} version 1 file`);
    const { format: _f, version: _v, ...rest } = json;
    trainer = rest as TrainerState;
    if (!Number.isInteger(trainer.step)) throw new Error("it has no integer 'step'");
  } catch (e) {
    throw new Error(`loadCheckpoint: ${statePath}: ${(e as Error).message}`, { cause: e });
  }
  let optimizer: LoadedCheckpoint['optimizer'];
  const optPath = join(at, OPTIMIZER_FILE);
  if (existsSync(optPath)) {
    const r = openSafetensors(optPath);
    const tensors = new Map<string, Tensor>();
    try {
      for (const k of r.keys()) tensors.set(k, r.get(k));
      optimizer = { tensors, meta: JSON.parse(r.metadata.state ?? 'null') };
    } catch (e) {
      for (const t of tensors.values()) t.dispose();
      throw new Error(`loadCheckpoint: ${optPath}: ${(e as Error).message}`, { cause: e });
    } finally {
      r.close();  // tensors handed out keep the mapping alive
    }
  }
  // A LoRA checkpoint holds the adapter instead of the model's weights.
  const adapterFile = join(at, ADAPTER_WEIGHTS_FILE);
  const isAdapter = existsSync(adapterFile) && !existsSync(join(at, SINGLE_FILE)) && !existsSync(join(at, INDEX_FILE));
  const weights = openSafetensors(isAdapter ? adapterFile : at);
  const close = () => {
    weights.close();
    if (optimizer) for (const t of optimizer.tensors.values()) t.dispose();
  };
  return { dir: at, trainer, optimizer, weights, close, [Symbol.dispose]: close };
}
