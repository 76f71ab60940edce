// Which parameters train, and where their gradients accumulate. Gradients are kept per
// checkpoint tensor (HF name) in fp32, whatever the weight's dtype; a tower tensor that is a
// slice of a checkpoint tensor (the vision q/k/v rows of the fused qkv weight) adds into its
// slice, and a tied lm_head adds into the embedding's gradient.
import { add } from '../ops/basic.js';
import type { ModelWeights, ParamSlice } from '../model/weights.js';
import { canonicalName } from '../model/weight-names.js';
import { noGrad } from '../tape.js';
import { Tensor, disposeAll } from '../tensor.js';

type F32 = Tensor<'float32'>;

/**
 * What trains: 'default' = the decoder (embeddings, layers, final norm, lm_head) and the vision
 * merger, with the vision blocks and patch embedding frozen (the GMAI-VL-R1 recipe); 'all' =
 * every parameter; or a predicate over HF names.
 */
export type Trainable = 'default' | 'all' | ((name: string) => boolean);

export function trainablePredicate(weights: ModelWeights, trainable: Trainable = 'default'): (name: string) => boolean {
  if (typeof trainable === 'function') return trainable;
  if (trainable === 'all') return () => true;
  if (trainable !== 'default') throw new Error(`trainable must be 'default', 'all' or a function of the parameter name, got '${String(trainable)}'`);
  return (name) => {
    const c = canonicalName(name, weights.scheme) ?? name;
    return !c.startsWith('vision.') || c.startsWith('vision.merger.');
  };
}

/** The tower tensors (whole or slices) whose parameter trains: what a tape watches. */
export function trainableTensors(weights: ParamSource, isTrainable: (name: string) => boolean): Tensor[] {
  return [...weights.slices].filter(([, s]) => isTrainable(s.name)).map(([t]) => t);
}

/** Named parameters and the tensors a tape watches for them (ModelWeights, or LoRA adapters). */
export interface ParamSource {
  params: ReadonlyMap<string, Tensor>;
  slices: ReadonlyMap<Tensor, ParamSlice>;
}

/** fp32 gradient buffers by parameter name, zero until something adds into them. */
export class GradBuffers implements Disposable {
  readonly #grads = new Map<string, F32>();

  constructor(private readonly weights: ParamSource) {}

  /** Adds the gradient `g` of tower tensor `t` into its parameter's buffer. */
  add(t: Tensor, g: F32): void {
    noGrad(() => {
      using at = this.target(t);
      add(at, g, at);
    });
  }

  /**
   * The part of the buffer that holds tower tensor `t`'s gradient, as a view of `t`'s shape, for
   * a kernel to accumulate into directly (the buffer starts at zero; dispose the view after use).
   */
  target(t: Tensor): F32 {
    const slice = this.weights.slices.get(t);
    if (!slice) throw new Error(`gradient for a tensor [${t.shape.join(', ')}] that is not a model parameter`);
    let buf = this.#grads.get(slice.name);
    if (!buf) {
      const p = this.weights.params.get(slice.name)!;
      buf = Tensor.zeros(p.shape, { device: p.device });
      this.#grads.set(slice.name, buf);
    }
    return buf.view(t.shape, slice.offset);
  }

  /** The buffers (owned by this object). */
  get tensors(): ReadonlyMap<string, F32> {
    return this.#grads;
  }

  /** Copies as arrays, every parameter of `names` present (zeros where nothing flowed). */
  toArrays(names: Iterable<string>): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    for (const name of names) {
      const g = this.#grads.get(name);
      out.set(name, g ? g.toArray() : new Float32Array(this.weights.params.get(name)!.size));
    }
    return out;
  }

  /** Drops every buffer (the next add starts from zero). */
  clear(): void {
    disposeAll([...this.#grads.values()]);
    this.#grads.clear();
  }

  dispose(): void {
    this.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
