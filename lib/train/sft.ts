// Supervised fine-tuning's loss and gradients: token cross-entropy on the completion (assistant)
// tokens only, from the final hidden states and lm_head through the fused, chunked tokenLogprobs
// kernel (the [tokens × vocabulary] logits are never materialised), backpropagated through the
// whole model by the tape.
import { checkInputs, checkTokenIds, type ModelInputs } from '../model/inputs.js';
import type { Model } from '../model/model.js';
import { packedPlan, runLayers } from '../model/decoder.js';
import { embedPacked } from '../model/packing.js';
import { gatherRows } from '../ops/attention.js';
import { tokenLogprobs } from '../ops/loss.js';
import { Tape } from '../tape.js';
import { Tensor } from '../tensor.js';
import type { LoraAdapters } from './lora.js';
import { GradBuffers, trainablePredicate, trainableTensors, type ParamSource, type Trainable } from './params.js';

export interface SftExample extends ModelInputs {
  /** The prompt (`inputIds`) is followed by these tokens; the loss is on them alone. */
  completionIds: Int32Array | readonly number[];
}

export interface SftBackwardResult {
  /** Sum of −log p over the completion tokens of the batch. */
  lossSum: number;
  /** Number of completion tokens in the batch. */
  tokens: number;
}

/**
 * Forward and backward of one packed batch: adds ∂(lossScale · Σ −log p)/∂θ into `grads` for
 * every parameter `isTrainable` accepts. `lossScale` = 1 / (completion tokens of the whole
 * optimiser step) gives the token-mean loss over gradient-accumulation micro-batches.
 */
export function sftBackward(model: Model, batch: readonly SftExample[], grads: GradBuffers,
  opts: { isTrainable: (name: string) => boolean; lossScale: number; params?: ParamSource }): SftBackwardResult {
  const w = model.weights, cfg = model.config;
  const vocab = cfg.text.vocabSize;
  const completions = batch.map((e, i) => checkTokenIds(e.completionIds, vocab, `batch[${i}].completionIds`));
  const checked = batch.map((e, i) => {
    const prompt = checkTokenIds(e.inputIds, vocab, `batch[${i}].inputIds`);
    const ids = new Int32Array(prompt.length + completions[i].length);
    ids.set(prompt);
    ids.set(completions[i], prompt.length);
    return { checked: checkInputs({ ...e, inputIds: ids }, cfg, w.device), promptLength: prompt.length };
  });
  // Row r of the packed batch predicts token r + 1 of its sequence.
  const rows: number[] = [], targets: number[] = [];
  let start = 0;
  checked.forEach(({ checked: c, promptLength }, i) => {
    completions[i].forEach((tok, k) => {
      rows.push(start + promptLength - 1 + k);
      targets.push(tok);
    });
    start += c.ids.length;
  });

  // `params`: what trains when it is not the model's own weights (LoRA adapters).
  using tape = new Tape().watch(...trainableTensors(opts.params ?? w, opts.isTrainable));
  let logp: Tensor<'float32'> | undefined;
  try {
    logp = tape.run(() => {
      const packed = embedPacked(w, cfg, checked.map((c) => c.checked));
      using x = packed.x;
      using hidden = runLayers(w.text, cfg.text, x, packed.positionIds, packedPlan(packed.cuSeqlens));
      using picked = gatherRows(hidden, Int32Array.from(rows));
      using targetIds = Tensor.from<'int32'>(Int32Array.from(targets), [targets.length], { device: w.device });
      const r = tokenLogprobs(picked, w.text.lmHead, targetIds);
      r.lse.dispose();  // (the tape keeps its own reference)
      return r.logp;
    });
    let lossSum = 0;
    for (const lp of logp.toArray()) lossSum -= lp;
    const seed = Tensor.full([targets.length], -opts.lossScale, { device: w.device });
    tape.backward(logp, seed, (param, g) => grads.add(param, g));
    return { lossSum, tokens: targets.length };
  } finally {
    logp?.dispose();
    for (const c of checked) if (c.checked.ownsPixels) c.checked.pixels?.dispose();
  }
}

export interface SftLossAndGrads {
  /** Mean −log p of the completion tokens (= −mean of model.scoreCompletion on the same inputs). */
  loss: number;
  /** ∂loss/∂θ by HF parameter name (tied embeddings under the embedding's name), fp32, every trainable parameter. */
  grads: Map<string, Float32Array>;
}

/**
 * The SFT loss of one example and its gradient with respect to every trainable parameter; with
 * `lora` (attached to this model), with respect to the adapters alone (by their PEFT names).
 */
export async function sftLossAndGrads(model: Model, example: SftExample, opts: { trainable?: Trainable; lora?: LoraAdapters } = {}): Promise<SftLossAndGrads> {
  if (opts.lora && opts.trainable !== undefined) throw new Error("sftLossAndGrads: give 'trainable' or 'lora', not both (with LoRA only the adapters train)");
  const params: ParamSource = opts.lora ?? model.weights;
  const isTrainable = opts.lora ? () => true : trainablePredicate(model.weights, opts.trainable);
  const n = Array.from(example?.completionIds ?? []).length;
  if (n === 0) throw new RangeError('completionIds is empty: there is nothing to compute a loss on');
  using grads = new GradBuffers(params);
  const r = sftBackward(model, [example], grads, { isTrainable, lossScale: 1 / n, params });
  const names = [...params.params.keys()].filter(isTrainable);
  return { loss: r.lossSum / r.tokens, grads: grads.toArrays(names) };
}
