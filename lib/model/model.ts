// The public model object: loadModel(dir) → Model with forward (all logits), sessions
// (prefill + one-token steps over a KV cache) and teacher-forced completion scoring.
// The work runs synchronously on the native thread pool inside each call; the object holds
// no main-thread state, so it can live in a worker thread unchanged. Weights, KV caches and
// activations all live on the device given to loadModel; only results handed to JS come back.
import { addonInfo } from '../native.js';
import { runtimeInfo } from '../runtime.js';
import type { Device, Tensor } from '../tensor.js';
import { readConfig, type ModelConfig } from './config.js';
import { decode, DecodeBuffers, embedTokens, lmHeadLogits } from './decoder.js';
import { checkInputs, checkTokenIds, type ModelInputs } from './inputs.js';
import { KvCache } from './kv-cache.js';
import { embedPacked } from './packing.js';
import { decodePositionIds } from './rope-index.js';
import type { Trace } from './vision.js';
import { mergeAdapterFolder } from './adapter.js';
import { loadWeights, type F32, type LoadProgress, type ModelWeights, type WeightDType } from './weights.js';

export interface LoadModelOptions {
  /** Weight dtype in memory (compute is float32 either way); default: as stored. */
  dtype?: WeightDType;
  /** Where every tensor lives and runs: 'cpu' (default) or 'cuda' (the CUDA build and a visible GPU). */
  device?: Device;
  /** CPU: keep the weights memory-mapped from the checkpoint instead of copying them (see LoadWeightsOptions). */
  mmap?: boolean;
  /**
   * A LoRA adapter folder in PEFT's layout (adapter_config.json + adapter_model.safetensors),
   * merged into the weights once loaded: inference then runs at full speed on plain weights.
   */
  adapter?: string;
  onProgress?: (p: LoadProgress) => void;
}

export interface ForwardOptions {
  /** Also return the residual stream after each decoder layer. */
  outputHiddenStates?: boolean;
  /** Debug hook: intermediate tensors by name (see docs/model.md); read them inside the call. */
  trace?: Trace;
}

export interface ForwardResult {
  /** [seq, vocab] row-major. */
  logits: Float32Array;
  vocabSize: number;
  /** After each decoder layer, [seq, hidden] each (the last one before the final norm). */
  hiddenStates?: Float32Array[];
  /** Vision tower output [image tokens, hidden] in prompt order, when there are images. */
  imageEmbeds?: Float32Array;
  /** Shape `[3, seq]`: rows t, h, w. */
  positionIds: Int32Array;
  ropeDeltas: number;
}

interface Prefilled {
  normed: F32;
  positionIds: Int32Array;
  ropeDeltas: number;
  imageEmbeds?: Float32Array;
  hiddenStates?: Float32Array[];
}

/** log_softmax(row)[token], accumulated in float64. */
function logProb(row: Float32Array, token: number): number {
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let sum = 0;
  for (const x of row) sum += Math.exp(x - max);
  return row[token] - max - Math.log(sum);
}

export class Model implements Disposable {
  #weights: ModelWeights | undefined;
  /** Activations of the last decode step's batch size, reused while it stays the same. */
  #stepBuffers: DecodeBuffers | undefined;

  /** `dir`: the model folder it was loaded from (where its tokenizer lives), if any. */
  constructor(readonly config: ModelConfig, weights: ModelWeights, readonly dir?: string) {
    this.#weights = weights;
  }

  get weights(): ModelWeights {
    if (!this.#weights) throw new Error('model was used after dispose()');
    return this.#weights;
  }

  /** Weight dtype in memory. */
  get dtype(): WeightDType {
    return this.weights.dtype;
  }

  /** Where the weights, caches and activations live. */
  get device(): Device {
    return this.weights.device;
  }

  /**
   * Every checkpoint tensor as [HF name, tensor] (the names of the loaded checkpoint; tied
   * embeddings once, under the embedding's name). The tensors are the model's own: writing
   * into them changes the model.
   */
  parameters(): [string, Tensor][] {
    return [...this.weights.params];
  }

  /** Prompt through vision tower and decoder into `cache` (which must be empty). */
  prefillInto(inputs: ModelInputs, cache: KvCache, opts: ForwardOptions = {}): Prefilled {
    const w = this.weights;
    const cfg = this.config;
    if (cache.length !== 0) throw new Error('prefill needs an empty KV cache (this session already holds a prompt)');
    const checked = checkInputs(inputs, cfg, w.device);
    try {
      const packed = embedPacked(w, cfg, [checked], { trace: opts.trace, keepImageEmbeds: true });
      const hiddenStates: Float32Array[] | undefined = opts.outputHiddenStates ? [] : undefined;
      try {
        const normed = decode(w.text, cfg.text, packed.x, packed.positionIds, [{ cache, start: 0, count: checked.ids.length }], {
          trace: opts.trace,
          onLayer: hiddenStates && ((_, h) => hiddenStates.push(h.toArray())),
        });
        return { normed, positionIds: packed.positionIds, ropeDeltas: packed.ropeDeltas[0], imageEmbeds: packed.imageEmbeds, hiddenStates };
      } finally {
        packed.x.dispose();
      }
    } finally {
      if (checked.ownsPixels) checked.pixels?.dispose();
    }
  }

  #newCache(capacity: number): KvCache {
    const t = this.config.text;
    return new KvCache(t.numLayers, t.numKvHeads, t.headDim, capacity, this.device);
  }

  /** One full forward (no cache reuse): logits of every prompt position. */
  async forward(inputs: ModelInputs, opts: ForwardOptions = {}): Promise<ForwardResult> {
    const seq = inputs?.inputIds?.length ?? 0;
    using cache = this.#newCache(Math.max(1, seq));
    const p = this.prefillInto(inputs, cache, opts);
    try {
      const out: ForwardResult = {
        logits: lmHeadLogits(this.weights.text, p.normed),
        vocabSize: this.config.text.vocabSize,
        positionIds: p.positionIds,
        ropeDeltas: p.ropeDeltas,
      };
      if (p.hiddenStates) out.hiddenStates = p.hiddenStates;
      if (p.imageEmbeds) out.imageEmbeds = p.imageEmbeds;
      return out;
    } finally {
      p.normed.dispose();
    }
  }

  /**
   * Log-probabilities of `completionIds` following the prompt under teacher forcing (one
   * forward over prompt + completion, no cache): entry k = log p(completion[k] | everything before).
   */
  async scoreCompletion(inputs: ModelInputs, completionIds: Int32Array | readonly number[]): Promise<Float32Array> {
    const completion = checkTokenIds(completionIds, this.config.text.vocabSize, 'completionIds');
    const prompt = checkTokenIds(inputs?.inputIds, this.config.text.vocabSize);
    const ids = new Int32Array(prompt.length + completion.length);
    ids.set(prompt);
    ids.set(completion, prompt.length);
    using cache = this.#newCache(ids.length);
    const p = this.prefillInto({ ...inputs, inputIds: ids }, cache);
    try {
      const all = lmHeadLogits(this.weights.text, p.normed, prompt.length - 1, completion.length);
      const vocab = this.config.text.vocabSize;
      return Float32Array.from(completion, (tok, k) => logProb(all.subarray(k * vocab, (k + 1) * vocab), tok));
    } finally {
      p.normed.dispose();
    }
  }

  /** A generation session over its own KV cache. `capacity` is a first size; it grows. */
  createSession(opts: { capacity?: number } = {}): Session {
    return new Session(this, this.#newCache(opts.capacity ?? 256));
  }

  /**
   * One decode step for several prefilled sessions at once: token k goes to sessions[k]; the
   * projections and MLPs run as one batch, attention per session over its own cache.
   * Returns the next-token logits [sessions × vocab]. Synchronous.
   */
  decodeBatch(sessions: readonly Session[], tokens: readonly number[] | Int32Array): Float32Array {
    const cfg = this.config;
    if (sessions.length === 0) throw new RangeError('decodeBatch: no sessions given');
    if (tokens.length !== sessions.length) throw new RangeError(`decodeBatch: ${tokens.length} tokens for ${sessions.length} sessions`);
    const ids = checkTokenIds(Array.from(tokens), cfg.text.vocabSize, 'tokens');
    const n = sessions.length;
    const positions = new Int32Array(3 * n);
    sessions.forEach((s, k) => {
      if (s.model !== this) throw new Error(`decodeBatch: sessions[${k}] belongs to another model`);
      if (!s.prefilled) throw new Error(`decodeBatch: sessions[${k}] has not been prefilled`);
      if (ids[k] === cfg.tokens.image) throw new Error(`decodeBatch: tokens[${k}] is the image token; images go through prefill()`);
      const p = decodePositionIds(s.cache.length, 1, s.ropeDeltas)[0];
      positions[k] = positions[n + k] = positions[2 * n + k] = p;
    });
    const w = this.weights.text;
    if (this.#stepBuffers?.rows !== n) {
      this.#stepBuffers?.dispose();
      this.#stepBuffers = undefined;  // (so a failed allocation below leaves nothing disposed referenced)
      this.#stepBuffers = new DecodeBuffers(n, cfg.text, this.device);
    }
    using x = embedTokens(w, ids);
    using normed = decode(w, cfg.text, x, positions, sessions.map((s, k) => ({ cache: s.cache, start: k, count: 1 })), { buffers: this.#stepBuffers });
    return lmHeadLogits(w, normed);
  }

  dispose(): void {
    this.#stepBuffers?.dispose();
    this.#stepBuffers = undefined;
    this.#weights?.dispose();
    this.#weights = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Prefill once, then feed one token at a time; each call returns the next-token logits.
 * The `...Sync` methods run on the calling thread (for a model hosted in a worker).
 */
export class Session implements Disposable {
  #ropeDeltas = 0;
  #prefilled = false;

  constructor(readonly model: Model, readonly cache: KvCache) {}

  /** Tokens in the cache. */
  get length(): number {
    return this.cache.length;
  }

  get ropeDeltas(): number {
    return this.#ropeDeltas;
  }

  get prefilled(): boolean {
    return this.#prefilled;
  }

  /** Runs the prompt; returns the logits [vocab] of its last position. */
  prefillSync(inputs: ModelInputs): Float32Array {
    if (this.#prefilled) throw new Error('session already prefilled: use step(), or a new session');
    const p = this.model.prefillInto(inputs, this.cache);
    this.#prefilled = true;
    this.#ropeDeltas = p.ropeDeltas;
    try {
      return lmHeadLogits(this.model.weights.text, p.normed, p.normed.shape[0] - 1, 1);
    } finally {
      p.normed.dispose();
    }
  }

  async prefill(inputs: ModelInputs): Promise<Float32Array> {
    return this.prefillSync(inputs);
  }

  /** Appends one token (HF decode positions: cache length + rope_deltas); returns its logits. */
  stepSync(tokenId: number): Float32Array {
    if (!this.#prefilled) throw new Error('step() before prefill(): run the prompt first');
    const vocab = this.model.config.text.vocabSize;
    if (!Number.isInteger(tokenId) || tokenId < 0 || tokenId >= vocab) throw new RangeError(`tokenId ${tokenId} is not a token id in [0, ${vocab})`);
    return this.model.decodeBatch([this], [tokenId]);
  }

  async step(tokenId: number): Promise<Float32Array> {
    return this.stepSync(tokenId);
  }

  /** An independent session continuing from the same cached prompt (copies the cache). */
  fork(): Session {
    const copy = new Session(this.model, this.cache.clone());
    copy.#prefilled = this.#prefilled;
    copy.#ropeDeltas = this.#ropeDeltas;
    return copy;
  }

  dispose(): void {
    this.cache.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** `device` if this process can run a model there, else an error saying what is missing. */
function checkDevice(device: unknown): Device {
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`loadModel: device must be 'cpu' or 'cuda', got '${String(device)}'`);
  if (device === 'cuda' && !runtimeInfo().backends.includes('cuda')) {
    const { path, variant } = addonInfo();
    throw new Error(variant === 'cuda'
      ? `loadModel: device 'cuda', but the CUDA build of the addon (${path}) sees no GPU (check the driver, nvidia-smi, CUDA_VISIBLE_DEVICES)`
      : `loadModel: device 'cuda' needs the CUDA build of the addon, but the loaded one (${path}) is the CPU build ` +
        '(`npm run build:cuda` builds it; the loader takes it when a GPU is visible, or with GMAI_DEVICE=cuda)');
  }
  return device;
}

/** Reads config.json (+ generation_config.json) and the safetensors weights of a HF model folder. */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<Model> {
  const device = checkDevice(opts.device ?? 'cpu');
  if (opts.dtype !== undefined && opts.dtype !== 'float32' && opts.dtype !== 'bfloat16') {
    throw new Error(`loadModel: dtype must be 'float32' or 'bfloat16', got '${String(opts.dtype)}'`);
  }
  if (opts.mmap !== undefined && typeof opts.mmap !== 'boolean') throw new Error(`loadModel: mmap must be true or false, got '${String(opts.mmap)}'`);
  if (opts.adapter !== undefined && typeof opts.adapter !== 'string') throw new Error(`loadModel: adapter must be the path of a PEFT LoRA folder, got '${String(opts.adapter)}'`);
  if (opts.adapter !== undefined && opts.mmap) throw new Error('loadModel: adapter cannot be merged into memory-mapped weights (mmap: true)');
  const config = await readConfig(dir);
  const weights = await loadWeights(dir, config, { ...opts, device });
  if (opts.adapter !== undefined) {
    try {
      mergeAdapterFolder(weights, opts.adapter);
    } catch (e) {
      weights.dispose();
      throw e;
    }
  }
  return new Model(config, weights, dir);
}
