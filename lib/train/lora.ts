// LoRA: low-rank adapters on chosen projections, trained while the base weights stay frozen.
//
// attachLora(model, options) gives each targeted Linear a `lora` field (A [r, in], B [out, r],
// scale = alpha / r, dropout); the training path (lib/model/projection.ts) then computes
// y = x·Wᵀ + b + scale·dropout(x)·Aᵀ·Bᵀ and the tape watches only A and B. A is initialised as
// PEFT does (kaiming-uniform with a = √5, i.e. U(−1/√in, 1/√in), from the seed), B with zeros,
// so a fresh adapter leaves the model's outputs unchanged. The vision tower's fused attn.qkv is
// one module to PEFT: its A is shared by the q, k and v projections and its B rows split into
// the q, k and v parts (row views, routed back to B like the fused weight's own slices).
//
// Saved in PEFT's layout (lib/model/adapter.ts), loadable by Python's peft; merged for inference.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { saveSafetensors } from '../io/safetensors.js';
import { mul } from '../ops/basic.js';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, mergeAdapterModules, peftTensorName, type AdapterModule } from '../model/adapter.js';
import { loadModel, type Model } from '../model/model.js';
import type { F32, Linear, LoraAdapter, ModelWeights, ParamSlice } from '../model/weights.js';
import { native } from '../native.js';
import { createRng, deriveSeed } from '../random.js';
import { Tensor, disposeAll } from '../tensor.js';
import { saveCheckpoint, withCpuCopies } from './checkpoint.js';
import type { ParamSource } from './params.js';

/** Text projections an adapter can target (PEFT's target_modules names). */
export const TEXT_LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
/** Vision-tower modules: attn.qkv (fused), attn.proj, the MLP, and the merger's two Linears. */
export const VISION_LORA_TARGETS = ['qkv', 'proj', 'gate_proj', 'up_proj', 'down_proj', 'mlp.0', 'mlp.2'] as const;

export interface LoraOptions {
  /** Rank. */
  r: number;
  /** Scale = alpha / r. */
  alpha: number;
  /** Dropout probability on the adapter's input (training only); default 0. */
  dropout?: number;
  /** Text projections to adapt; default all seven. */
  targetModules?: readonly string[];
  /** Vision modules to adapt (true: all of VISION_LORA_TARGETS); default none. */
  vision?: boolean | readonly string[];
  /** Seeds A's initialisation and the dropout masks; default 0. */
  seed?: number;
}

/** What a dropout mask depends on (besides the seed and the module): set by the training loop. */
export interface DropoutKey {
  step: number;
  microBatch: number;
}

interface Module {
  /** The checkpoint's name of the Linear without `.weight` (PEFT's module path). */
  path: string;
  /** The Linears it covers: one, or the q, k, v row blocks of a fused weight. */
  parts: Linear[];
}

/** The modules `opts` targets, in checkpoint order (layers, then vision blocks, then merger). */
function targetModules(w: ModelWeights, text: readonly string[], vision: readonly string[]): Module[] {
  const pathOf = (lin: Linear): string => {
    const s = w.slices.get(lin.weight);
    if (!s) throw new Error('lora: a projection weight is not a model parameter');
    return s.name.replace(/\.weight$/, '');
  };
  const out: Module[] = [];
  for (const l of w.text.layers) {
    const byName: Record<string, Linear> = { q_proj: l.q, k_proj: l.k, v_proj: l.v, o_proj: l.o, gate_proj: l.gate, up_proj: l.up, down_proj: l.down };
    for (const t of TEXT_LORA_TARGETS) if (text.includes(t)) out.push({ path: pathOf(byName[t]), parts: [byName[t]] });
  }
  for (const b of w.vision.blocks) {
    if (vision.includes('qkv')) out.push({ path: pathOf(b.q), parts: [b.q, b.k, b.v] });
    const byName: Record<string, Linear> = { proj: b.proj, gate_proj: b.gate, up_proj: b.up, down_proj: b.down };
    for (const t of ['proj', 'gate_proj', 'up_proj', 'down_proj']) if (vision.includes(t)) out.push({ path: pathOf(byName[t]), parts: [byName[t]] });
  }
  if (vision.includes('mlp.0')) out.push({ path: pathOf(w.vision.mergerFc1), parts: [w.vision.mergerFc1] });
  if (vision.includes('mlp.2')) out.push({ path: pathOf(w.vision.mergerFc2), parts: [w.vision.mergerFc2] });
  return out;
}

/** The checked options, every default filled in. */
export interface ResolvedLoraOptions {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
  vision: string[];
  seed: number;
}

export function resolveLoraOptions(opts: LoraOptions): ResolvedLoraOptions {
  if (typeof opts !== 'object' || opts === null) throw new TypeError('lora: options must be an object { r, alpha, dropout?, targetModules?, vision?, seed? }');
  const { r, alpha, dropout = 0, seed = 0 } = opts;
  if (!Number.isInteger(r) || r < 1) throw new RangeError(`lora: 'r' must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha) || alpha <= 0) throw new RangeError(`lora: 'alpha' must be a number > 0, got ${JSON.stringify(alpha)}`);
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new RangeError(`lora: 'dropout' must be a number in [0, 1), got ${JSON.stringify(dropout)}`);
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`lora: 'seed' must be an integer ≥ 0, got ${JSON.stringify(seed)}`);
  const list = (v: unknown, all: readonly string[], key: string): string[] => {
    if (v === true) return [...all];
    if (v === false || v === undefined) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new TypeError(`lora: '${key}' must be an array of module names (${all.join(', ')})`);
    for (const s of v) if (!all.includes(s)) throw new RangeError(`lora: '${key}' has '${s}'; expected some of ${all.join(', ')}`);
    return [...new Set(v as string[])];
  };
  const targetModules = opts.targetModules === undefined ? [...TEXT_LORA_TARGETS] : list(opts.targetModules, TEXT_LORA_TARGETS, 'targetModules');
  const vision = list(opts.vision, VISION_LORA_TARGETS, 'vision');
  if (targetModules.length + vision.length === 0) throw new RangeError("lora: no modules targeted ('targetModules' and 'vision' are both empty)");
  return { r, alpha, dropout, targetModules, vision, seed };
}

/** Adapters attached to a model's projections: what trains (a ParamSource for GradBuffers) and what is saved. */
export class LoraAdapters implements ParamSource, Disposable {
  /** A and B of every module, by PEFT tensor name (float32, on the model's device). */
  readonly params = new Map<string, Tensor>();
  /** The tensors the projections use (A, B, or B's q/k/v row views) → where they sit in `params`. */
  readonly slices = new Map<Tensor, ParamSlice>();
  readonly scale: number;
  /** Dropout masks are a function of (seed, module, step, micro-batch): the loop sets the last two. */
  dropoutKey: DropoutKey = { step: 0, microBatch: 0 };
  readonly #modules: { path: string; a: F32; b: F32 }[] = [];
  /** Every projection with its adapter (`part.lora` is set while attached). */
  readonly #attached: { part: Linear; adapter: LoraAdapter }[] = [];
  readonly #owned: Tensor[] = [];

  constructor(readonly weights: ModelWeights, readonly options: ResolvedLoraOptions) {
    const { r, alpha, dropout, seed } = options;
    this.scale = alpha / r;
    const modules = targetModules(weights, options.targetModules, options.vision);
    if (modules.length === 0) throw new Error('lora: the model has none of the targeted modules');
    for (const m of modules) if (m.parts.some((p) => p.lora)) throw new Error(`lora: '${m.path}' already has an adapter attached`);
    try {
      modules.forEach((m, site) => {
        const inF = m.parts[0].weight.shape[1];
        const outF = m.parts.reduce((s, p) => s + p.weight.shape[0], 0);
        // PEFT: kaiming_uniform_(A, a=√5) → U(−bound, bound), bound = gain·√(3 / fan_in) = 1/√in.
        const rng = createRng(deriveSeed('lora-init', seed, m.path));
        const bound = 1 / Math.sqrt(inF);
        const a = this.#own(Tensor.from<'float32'>(Float32Array.from({ length: r * inF }, () => rng.uniform(-bound, bound)), [r, inF], { device: weights.device }));
        const b = this.#own(Tensor.zeros([outF, r], { device: weights.device }));
        const aName = peftTensorName(m.path, 'A'), bName = peftTensorName(m.path, 'B');
        this.params.set(aName, a).set(bName, b);
        this.slices.set(a, { name: aName, offset: 0 });
        this.#modules.push({ path: m.path, a, b });
        const drop = dropout > 0 ? (x: F32) => this.#dropout(x, site) : undefined;
        let row = 0;
        for (const part of m.parts) {
          const rows = part.weight.shape[0];
          const bPart = m.parts.length === 1 ? b : this.#own(b.view([rows, r], row * r));
          if (bPart !== b) this.slices.set(bPart, { name: bName, offset: row * r });
          row += rows;
          part.lora = { a, b: bPart, scale: this.scale, dropout: drop };
          this.#attached.push({ part, adapter: part.lora });
        }
        this.slices.set(b, { name: bName, offset: 0 });
      });
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  #own<T extends Tensor>(t: T): T {
    this.#owned.push(t);
    return t;
  }

  /** x · mask / (1 − p), the mask drawn from (seed, module, step, micro-batch): one mask per module per forward. */
  #dropout(x: F32, site: number): F32 {
    const p = this.options.dropout;
    const { step, microBatch } = this.dropoutKey;
    const rng = createRng(deriveSeed('lora-dropout', this.options.seed, site, step, microBatch));
    const keep = 1 / (1 - p);
    using mask = Tensor.from<'float32'>(Float32Array.from({ length: x.size }, () => (rng.next() < p ? 0 : keep)), x.shape, { device: x.device });
    return mul(x, mask);
  }

  /** [PEFT name, tensor] of every A and B (what the optimizer updates). */
  parameters(): [string, Tensor][] {
    return [...this.params];
  }

  /** PEFT's adapter_config.json for these adapters on `base` (base_model_name_or_path). */
  peftConfig(base: string): Record<string, unknown> {
    const o = this.options;
    // target_modules as a regex (PEFT full-matches it against module names), so that text names
    // like gate_proj do not also catch the vision MLP's, and the prefix of newer transformers
    // versions (model.language_model.…, model.visual.…) matches as well as the checkpoint's.
    const alt = (xs: string[]) => xs.map((s) => s.replace(/\./g, '\\.')).join('|');
    const parts: string[] = [];
    const attn = o.targetModules.filter((t) => ['q_proj', 'k_proj', 'v_proj', 'o_proj'].includes(t));
    const mlp = o.targetModules.filter((t) => ['gate_proj', 'up_proj', 'down_proj'].includes(t));
    const textAlt = [attn.length ? `self_attn\\.(${alt(attn)})` : '', mlp.length ? `mlp\\.(${alt(mlp)})` : ''].filter(Boolean);
    if (textAlt.length) parts.push(`(.*\\.)?layers\\.\\d+\\.(${textAlt.join('|')})`);
    const vAttn = o.vision.filter((t) => t === 'qkv' || t === 'proj');
    const vMlp = o.vision.filter((t) => ['gate_proj', 'up_proj', 'down_proj'].includes(t));
    const vAlt = [vAttn.length ? `attn\\.(${alt(vAttn)})` : '', vMlp.length ? `mlp\\.(${alt(vMlp)})` : ''].filter(Boolean);
    if (vAlt.length) parts.push(`(.*\\.)?visual\\.blocks\\.\\d+\\.(${vAlt.join('|')})`);
    const merger = o.vision.filter((t) => t.startsWith('mlp.'));
    if (merger.length) parts.push(`(.*\\.)?visual\\.merger\\.(${alt(merger)})`);
    return {
      alpha_pattern: {},
      auto_mapping: null,
      base_model_name_or_path: base,
      bias: 'none',
      fan_in_fan_out: false,
      inference_mode: true,
      init_lora_weights: true,
      layer_replication: null,
      layers_pattern: null,
      layers_to_transform: null,
      loftq_config: {},
      lora_alpha: o.alpha,
      lora_dropout: o.dropout,
      megatron_config: null,
      megatron_core: 'megatron.core',
      modules_to_save: null,
      peft_type: 'LORA',
      r: o.r,
      rank_pattern: {},
      revision: null,
      target_modules: parts.length === 1 ? parts[0] : `(${parts.join('|')})`,
      task_type: 'CAUSAL_LM',
      use_dora: false,
      use_rslora: false,
    };
  }

  /** W += scale·B·A for every module (then detach: the model runs plain weights again). */
  mergeIntoModel(): void {
    mergeAdapterModules(this.weights, this.#adapterModules(), this.scale, 'lora');
    this.detach();
  }

  /** Removes the adapters from the projections (the tensors stay until dispose). */
  detach(): void {
    this.#setAttached(false);
    this.#attached.length = 0;
  }

  /** Runs `fn` on the base model: the adapters are off during the call (GRPO's reference policy). */
  withoutAdapters<T>(fn: () => T): T {
    this.#setAttached(false);
    try {
      return fn();
    } finally {
      this.#setAttached(true);
    }
  }

  /**
   * Runs `fn` with the adapters merged into the weights (W + scale·B·A), so that the inference
   * path (which refuses attached adapters) samples from the adapted model; afterwards the base
   * weights are copied back exactly (not un-merged, which would not round-trip in floating
   * point) and the adapters re-attached. Costs a copy of the targeted weights while `fn` runs.
   */
  async withMerged<T>(fn: () => Promise<T>): Promise<T> {
    const modules = this.#adapterModules();
    const saved = modules.map(({ module }) => {
      const w = this.weights.params.get(`${module}.weight`)!;
      return { w, copy: w.clone() };
    });
    this.#setAttached(false);
    try {
      mergeAdapterModules(this.weights, modules, this.scale, 'lora');
      return await fn();
    } finally {
      for (const { w, copy } of saved) {
        native().copy(w.handle, copy.handle);
        copy.dispose();
      }
      this.#setAttached(true);
    }
  }

  /** Sets (or removes) each projection's `lora` field. */
  #setAttached(on: boolean): void {
    for (const { part, adapter } of this.#attached) {
      if (on) part.lora = adapter;
      else delete part.lora;
    }
  }

  #adapterModules(): AdapterModule[] {
    return this.#modules.map((m) => ({ module: m.path, a: m.a, b: m.b }));
  }

  dispose(): void {
    this.detach();
    disposeAll(this.#owned);
    this.#owned.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Attaches fresh adapters (B = 0: outputs unchanged) to `model`'s targeted projections. */
export function attachLora(model: Model, opts: LoraOptions): LoraAdapters {
  return new LoraAdapters(model.weights, resolveLoraOptions(opts));
}

/** Writes `adapters` as a PEFT LoRA folder: adapter_model.safetensors + adapter_config.json (each file atomic). */
export async function saveLoraAdapter(dir: string, adapters: LoraAdapters, base: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await withCpuCopies(adapters.params, (onCpu) => saveSafetensors(join(dir, ADAPTER_WEIGHTS_FILE), onCpu, { format: 'pt' }));
  await writeFileAtomic(join(dir, ADAPTER_CONFIG_FILE), JSON.stringify(adapters.peftConfig(base), null, 2) + '\n');
}

/**
 * Merges the PEFT adapter in `adapterDir` into the model in `modelDir` and writes the result to
 * `outDir` as a plain checkpoint in the base's layout and dtypes (atomic, via saveCheckpoint).
 */
export async function mergeLora(modelDir: string, adapterDir: string, outDir: string): Promise<void> {
  using model = await loadModel(modelDir, { adapter: adapterDir });
  await saveCheckpoint(outDir, { weights: model.weights.params, like: modelDir, trainer: { step: 0, mergedAdapter: adapterDir } });
}
