// AdamW for training: fp32 master weights and moments per named parameter, one native call per
// step for the whole model (ops.adamwStep), global gradient-norm clipping, and a guard that skips
// a step whose loss or gradient norm is not finite (weights and moments untouched).
//
// Semantics follow torch.optim.AdamW + torch.nn.utils.clip_grad_norm_ (as the HF Trainer uses
// them): the clip factor is min(1, maxGradNorm / (norm + 1e-6)); a parameter without a gradient
// this step is left alone (no decay, its own step count does not advance), as torch skips
// parameters whose .grad is None.
import { adamwStep, sumOfSquares } from '../ops/optim.js';
import { cast } from '../ops/basic.js';
import { native } from '../native.js';
import { Tensor } from '../tensor.js';

type F32 = Tensor<'float32'>;
export type ModelWeight = Tensor<'float32' | 'bfloat16'>;

export interface AdamwParam {
  /** The checkpoint's (HF) name. */
  name: string;
  /** fp32 master weights: what the optimizer updates. */
  master: F32;
  /** The model's own weight (bf16 or f32, the master's size): receives each updated master. */
  weight?: ModelWeight;
  /** Apply weight decay (false for norms and biases: see noDecay). */
  decay: boolean;
}

export interface AdamwOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled weight decay for parameters with `decay: true` (torch's default 0.01). */
  weightDecay?: number;
  /** Clip the global gradient L2 norm to this (torch clip_grad_norm_); undefined or 0: no clipping. */
  maxGradNorm?: number;
}

export interface AdamwStepOptions {
  lr: number;
  /** The step's loss: a non-finite loss skips the step. */
  loss?: number;
  /** Multiplies every gradient first (e.g. 1 / accumulation steps); the norm is of scaled gradients. */
  gradScale?: number;
}

export type AdamwStepResult =
  | { skipped: false; step: number; lr: number; gradNorm: number; clipScale: number }
  | { skipped: true; reason: string; step: number; gradNorm: number; loss?: number };

/** Gradients by parameter name: float32 tensors, or Float32Arrays (CPU) of the parameter's size. */
export type Gradients = ReadonlyMap<string, F32 | Float32Array>;

const STATE_FORMAT = 'gmai-adamw';
const FLOAT32_MAX = 3.4028234663852886e38;

/** What state() returns and loadState() takes: tensors by name plus JSON-able metadata. */
export interface AdamwState {
  /** `<name>.exp_avg`, `<name>.exp_avg_sq` and `<name>.master` per parameter. The master is
   * saved even when the model weight is float32: a checkpoint may store the weight rounded (e.g.
   * as the bf16 of the original model), and resuming from the rounding would not be exact. */
  tensors: Map<string, F32>;
  meta: AdamwStateMeta;
}
export interface AdamwStateMeta {
  format: typeof STATE_FORMAT;
  version: 1;
  /** Steps taken per parameter (torch keeps one count per parameter). */
  steps: Record<string, number>;
  /** Steps skipped by the non-finite guard so far. */
  skippedSteps: number;
  hyperparameters: Required<Omit<AdamwOptions, 'maxGradNorm'>> & { maxGradNorm: number | null };
}

/**
 * No weight decay for biases and normalisation weights: `*.bias`, and any parameter whose module
 * name contains "norm" (input_layernorm, post_attention_layernorm, model.norm, the vision blocks'
 * norm1/norm2) or starts with "ln_" (the merger's ln_q). HF Trainer's own rule is close (bias,
 * layernorm, rmsnorm, `.norm.`, `_norm`); this one also exempts norm1/norm2/ln_q, which are norms.
 */
export function noDecay(name: string): boolean {
  if (name.endsWith('.bias')) return true;
  const parts = name.split('.');
  const module = parts.length >= 2 ? parts[parts.length - 2] : '';
  return /norm/i.test(module) || /^ln(_|$)/i.test(module);
}

function checkNumber(v: unknown, key: string, ok: (x: number) => boolean, rule: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw new RangeError(`AdamW: '${key}' must be ${rule}, got ${String(v)}`);
  return v;
}

interface Slot {
  param: AdamwParam;
  expAvg: F32;
  expAvgSq: F32;
  /** Steps taken by this parameter. */
  steps: number;
}

export class AdamW implements Disposable {
  readonly hyperparameters: AdamwStateMeta['hyperparameters'];
  readonly #slots = new Map<string, Slot>();
  /** Masters this optimizer made (AdamW.forModel) and so disposes. */
  readonly #ownedMasters: F32[] = [];
  #skippedSteps = 0;

  constructor(params: readonly AdamwParam[], opts: AdamwOptions = {}) {
    this.hyperparameters = {
      beta1: checkNumber(opts.beta1 ?? 0.9, 'beta1', (x) => x >= 0 && x < 1, 'in [0, 1)'),
      beta2: checkNumber(opts.beta2 ?? 0.999, 'beta2', (x) => x >= 0 && x < 1, 'in [0, 1)'),
      eps: checkNumber(opts.eps ?? 1e-8, 'eps', (x) => x >= 0, '>= 0'),
      weightDecay: checkNumber(opts.weightDecay ?? 0.01, 'weightDecay', (x) => x >= 0, '>= 0'),
      maxGradNorm: opts.maxGradNorm ? checkNumber(opts.maxGradNorm, 'maxGradNorm', (x) => x > 0, '> 0') : null,
    };
    try {
      for (const p of params) this.#add(p);
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * An optimizer over a model's trainable weights (`[name, tensor]` pairs, e.g. from
   * model.parameters()): a float32 weight is its own master (updated in place), a bfloat16 one gets an fp32 master
   * copy (owned and disposed by the optimizer); decay follows noDecay().
   */
  static forModel(named: Iterable<readonly [string, Tensor]>, opts: AdamwOptions = {}): AdamW {
    const params: AdamwParam[] = [];
    const made: F32[] = [];
    try {
      for (const [name, w] of named) {
        if (w.dtype === 'float32') {
          params.push({ name, master: w as F32, weight: w as F32, decay: !noDecay(name) });  // its own master
        } else if (w.dtype === 'bfloat16') {
          const master = cast(w, 'float32');
          made.push(master);
          params.push({ name, master, weight: w as ModelWeight, decay: !noDecay(name) });
        } else {
          throw new TypeError(`AdamW.forModel: parameter '${name}' is ${w.dtype}; only float32 and bfloat16 weights can train`);
        }
      }
      const opt = new AdamW(params, opts);
      opt.#ownedMasters.push(...made);
      return opt;
    } catch (e) {
      for (const m of made) m.dispose();
      throw e;
    }
  }

  #add(p: AdamwParam): void {
    const what = `AdamW: parameter '${p.name}'`;
    if (typeof p.name !== 'string' || p.name === '') throw new TypeError('AdamW: every parameter needs a non-empty name');
    if (this.#slots.has(p.name)) throw new Error(`${what} is listed twice`);
    if (!(p.master instanceof Tensor) || p.master.dtype !== 'float32') throw new TypeError(`${what}: 'master' must be a float32 tensor`);
    if (p.weight !== undefined) {
      if (!(p.weight instanceof Tensor) || (p.weight.dtype !== 'float32' && p.weight.dtype !== 'bfloat16')) {
        throw new TypeError(`${what}: 'weight' must be a float32 or bfloat16 tensor`);
      }
      if (p.weight.size !== p.master.size) throw new RangeError(`${what}: weight [${p.weight.shape}] and master [${p.master.shape}] differ in size`);
      if (p.weight.device !== p.master.device) throw new RangeError(`${what}: weight and master are on different devices`);
    }
    if (typeof p.decay !== 'boolean') throw new TypeError(`${what}: 'decay' must be true or false`);
    const zeros = () => Tensor.zeros([p.master.size], { device: p.master.device });
    const expAvg = zeros();
    try {
      this.#slots.set(p.name, { param: p, expAvg, expAvgSq: zeros(), steps: 0 });
    } catch (e) {
      expAvg.dispose();
      throw e;
    }
  }

  /** Parameter names, in the order given. */
  get names(): string[] {
    return [...this.#slots.keys()];
  }

  /** Steps taken (by the parameters that took the most). */
  get stepCount(): number {
    let n = 0;
    for (const s of this.#slots.values()) n = Math.max(n, s.steps);
    return n;
  }
  /** Steps skipped by the non-finite guard. */
  get skippedSteps(): number {
    return this.#skippedSteps;
  }

  /**
   * One AdamW step with the gradients given. A parameter missing from `grads` is not updated; a
   * name that is not a parameter is an error. The step is skipped (nothing written, reported in
   * the result) when `loss` or the global gradient norm is NaN or infinite.
   */
  step(grads: Gradients, opts: AdamwStepOptions): AdamwStepResult {
    if (!(grads instanceof Map)) throw new TypeError('AdamW.step: grads must be a Map of parameter name → gradient');
    const lr = checkNumber(opts?.lr, 'lr', (x) => x >= 0, 'a finite number >= 0');
    const gradScale = checkNumber(opts.gradScale ?? 1, 'gradScale', () => true, 'a finite number');
    if (opts.loss !== undefined && typeof opts.loss !== 'number') throw new TypeError(`AdamW.step: 'loss' must be a number, got ${typeof opts.loss}`);
    for (const name of grads.keys()) {
      if (!this.#slots.has(name)) throw new Error(`AdamW.step: a gradient is given for '${name}', which is not a parameter of this optimizer`);
    }
    const present: { slot: Slot; grad: F32 }[] = [];
    const wrapped: F32[] = [];
    try {
      for (const slot of this.#slots.values()) {
        const g = grads.get(slot.param.name);
        if (g === undefined) continue;
        present.push({ slot, grad: this.#gradTensor(slot, g, wrapped) });
      }
      const taken = this.stepCount;
      if (opts.loss !== undefined && !Number.isFinite(opts.loss)) {
        this.#skippedSteps++;
        return { skipped: true, reason: `the loss is ${opts.loss}`, step: taken, gradNorm: NaN, loss: opts.loss };
      }
      const gradNorm = Math.sqrt(sumOfSquares(present.map((p) => p.grad))) * Math.abs(gradScale);
      // Beyond float32's range, a scaled gradient could itself overflow in the float32 kernel.
      if (!(gradNorm <= FLOAT32_MAX)) {
        this.#skippedSteps++;
        const why = Number.isFinite(gradNorm) ? ' (beyond float32)' : '';
        return { skipped: true, reason: `the gradient norm is ${gradNorm}${why}`, step: taken, gradNorm, loss: opts.loss };
      }
      const max = this.hyperparameters.maxGradNorm;
      const clipScale = max === null ? 1 : Math.min(1, max / (gradNorm + 1e-6));
      this.#update(present, lr, gradScale * clipScale);
      return { skipped: false, step: this.stepCount, lr, gradNorm, clipScale };
    } finally {
      for (const w of wrapped) w.dispose();
    }
  }

  #gradTensor(slot: Slot, g: F32 | Float32Array, wrapped: F32[]): F32 {
    const { master, name } = slot.param;
    if (!(g instanceof Float32Array) && !(g instanceof Tensor && g.dtype === 'float32')) {
      throw new TypeError(`AdamW.step: the gradient of '${name}' must be a float32 tensor or a Float32Array`);
    }
    const size = g instanceof Float32Array ? g.length : g.size;
    if (size !== master.size) throw new RangeError(`AdamW.step: the gradient of '${name}' has ${size} elements, the parameter ${master.size}`);
    if (g instanceof Tensor) {
      if (g.device !== master.device) throw new RangeError(`AdamW.step: the gradient of '${name}' is on ${g.device}, the parameter on ${master.device}`);
      return g;
    }
    const t = Tensor.from<'float32'>(g, [size], { copy: false, device: master.device });
    wrapped.push(t);
    return t;
  }

  /** One native call per distinct step number (one call, unless some parameters skipped steps). */
  #update(present: { slot: Slot; grad: F32 }[], lr: number, gradScale: number): void {
    const byStep = new Map<number, { slot: Slot; grad: F32 }[]>();
    for (const p of present) {
      const next = p.slot.steps + 1;
      byStep.set(next, [...(byStep.get(next) ?? []), p]);
    }
    const { beta1, beta2, eps, weightDecay } = this.hyperparameters;
    for (const [step, group] of byStep) {
      adamwStep(
        group.map((p) => p.slot.param.master), group.map((p) => p.grad),
        group.map((p) => p.slot.expAvg), group.map((p) => p.slot.expAvgSq),
        { lr, beta1, beta2, eps, step, gradScale, weightDecay: group.map((p) => (p.slot.param.decay ? weightDecay : 0)) },
        group.map((p) => p.slot.param.weight),
      );
      for (const p of group) p.slot.steps = step;
    }
  }

  /**
   * The state to checkpoint. The tensors are the optimizer's own (not copies): save them before
   * the next step and do not dispose them.
   */
  state(): AdamwState {
    const tensors = new Map<string, F32>();
    const steps: Record<string, number> = {};
    for (const [name, s] of this.#slots) {
      tensors.set(`${name}.exp_avg`, s.expAvg);
      tensors.set(`${name}.exp_avg_sq`, s.expAvgSq);
      tensors.set(`${name}.master`, s.param.master);
      Object.defineProperty(steps, name, { value: s.steps, enumerable: true, writable: true, configurable: true });
    }
    return {
      tensors,
      meta: { format: STATE_FORMAT, version: 1, steps, skippedSteps: this.#skippedSteps, hyperparameters: { ...this.hyperparameters } },
    };
  }

  /**
   * Restores a state() (e.g. from loadCheckpoint): moments, step counts and masters (the model
   * weights are rewritten from the masters). The parameter names must match exactly.
   * Hyperparameters stay those given to the constructor.
   */
  loadState(state: { tensors: ReadonlyMap<string, Tensor>; meta: unknown }): void {
    const meta = state?.meta as Partial<AdamwStateMeta> | undefined;
    if (!meta || meta.format !== STATE_FORMAT || meta.version !== 1 || typeof meta.steps !== 'object' || meta.steps === null) {
      throw new Error(`AdamW.loadState: not a ${STATE_FORMAT} version 1 state (format ${String(meta?.format)}, version ${String(meta?.version)})`);
    }
    const steps = meta.steps as Record<string, unknown>;
    const saved = Object.keys(steps);
    const extra = saved.filter((n) => !this.#slots.has(n));
    const missing = this.names.filter((n) => !Object.hasOwn(steps, n));
    if (extra.length || missing.length) {
      throw new Error(`AdamW.loadState: the saved parameters differ from this optimizer's` +
        (missing.length ? `; not saved: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}` : '') +
        (extra.length ? `; saved but not parameters: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', …' : ''}` : ''));
    }
    const tensorOf = (key: string, size: number, required: boolean): Tensor | undefined => {
      const t = state.tensors.get(key);
      if (!t) {
        if (required) throw new Error(`AdamW.loadState: the state has no tensor '${key}'`);
        return undefined;
      }
      if (t.dtype !== 'float32' || t.size !== size) {
        throw new RangeError(`AdamW.loadState: '${key}' is ${t.dtype} [${t.shape}], expected float32 with ${size} elements`);
      }
      return t;
    };
    // Check everything before writing anything, so a bad state leaves the optimizer as it was.
    const plan = [...this.#slots.values()].map((s) => {
      const n = s.param.master.size, k = s.param.name, st = steps[k];
      if (typeof st !== 'number' || !Number.isInteger(st) || st < 0) throw new RangeError(`AdamW.loadState: the step count of '${k}' is ${String(st)}`);
      const master = tensorOf(`${k}.master`, n, true);
      return { s, st, m: tensorOf(`${k}.exp_avg`, n, true)!, v: tensorOf(`${k}.exp_avg_sq`, n, true)!, master };
    });
    for (const { s, st, m, v, master } of plan) {
      copyInto(s.expAvg, m);
      copyInto(s.expAvgSq, v);
      copyInto(s.param.master, master!);
      if (s.param.weight) writeWeight(s.param.weight, s.param.master);
      s.steps = st;
    }
    this.#skippedSteps = typeof meta.skippedSteps === 'number' ? meta.skippedSteps : 0;
  }

  /** Frees the moments and the masters this optimizer made. Idempotent. */
  dispose(): void {
    for (const s of this.#slots.values()) {
      s.expAvg.dispose();
      s.expAvgSq.dispose();
    }
    for (const m of this.#ownedMasters) m.dispose();
    this.#ownedMasters.length = 0;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** dst ← src: same dtype and size (shapes may differ: the data is flat), any devices. */
function copyInto(dst: Tensor, src: Tensor): void {
  if (dst !== src) native().copy(dst.handle, src.handle);
}

/** weight ← master, rounded to the weight's dtype. */
function writeWeight(weight: ModelWeight, master: F32): void {
  if (weight.dtype === 'float32') { copyInto(weight, master); return; }
  using w = cast(master, 'bfloat16');
  copyInto(weight, w);
}
