// The forward every training loss starts from: the log-probabilities of given completion tokens
// after their prompts, for a packed batch, from the final hidden states and lm_head through the
// fused, chunked tokenLogprobs kernel (the [tokens × vocabulary] logits are never materialised).
// Under a tape it records, so a loss on those log-probs backpropagates through the whole model.
// SFT's loss and gradients (token cross-entropy on the completion tokens only) sit here too.
import { checkInputs, checkTokenIds, type ModelInputs } from '../model/inputs.js';
import type { Model } from '../model/model.js';
import { packedPlan, runLayers } from '../model/decoder.js';
import { embedPacked } from '../model/packing.js';
import { gatherRows } from '../ops/attention.js';
import { tokenLogprobs } from '../ops/loss.js';
import { Tape, noGrad } from '../tape.js';
import { Tensor, disposeAll } from '../tensor.js';
import type { LoraAdapters } from './lora.js';
import { GradBuffers, trainablePredicate, trainableTensors, type ParamSource, type Trainable } from './params.js';

type F32 = Tensor<'float32'>;

export interface SftExample extends ModelInputs {
  /** The prompt (`inputIds`) is followed by these tokens; the loss is on them alone. */
  completionIds: Int32Array | readonly number[];
}

export interface CompletionLogprobs extends Disposable {
  /** log p of every completion token at temperature τ, example after example [Σ lengths]. */
  logp: F32;
  /** Entropy of each of those predictions (when asked). */
  entropy?: F32;
  /** Completion tokens per example. */
  lengths: number[];
}

/** What the loss reads: the final hidden state before each completion token, and that token. */
interface CompletionRows extends Disposable {
  /** [Σ lengths, hidden], example after example. */
  hidden: F32;
  targets: Tensor<'int32'>;
  /** Completion tokens per example. */
  lengths: number[];
}

/**
 * Runs the packed batch through the decoder (recording on the tape that is running, if any) and
 * gathers the rows that predict the completion tokens.
 */
function completionRows(model: Model, batch: readonly SftExample[], opts: { checkpointLayers?: boolean }): CompletionRows {
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
  // Row of the hidden state that predicts each completion token (the one before it).
  const rows: number[] = [], targets: number[] = [];
  let start = 0;
  checked.forEach(({ checked: c, promptLength }, i) => {
    completions[i].forEach((tok, k) => {
      rows.push(start + promptLength - 1 + k);
      targets.push(tok);
    });
    start += c.ids.length;
  });
  try {
    const packed = embedPacked(w, cfg, checked.map((c) => c.checked));
    using x = packed.x;
    using all = runLayers(w.text, cfg.text, x, packed.positionIds, packedPlan(packed.cuSeqlens, { checkpointLayers: opts.checkpointLayers }));
    const hidden = gatherRows(all, Int32Array.from(rows));
    const targetIds = Tensor.from<'int32'>(Int32Array.from(targets), [targets.length], { device: w.device });
    return { hidden, targets: targetIds, lengths: completions.map((c) => c.length), [Symbol.dispose]: () => disposeAll(hidden, targetIds) };
  } finally {
    for (const c of checked) if (c.checked.ownsPixels) c.checked.pixels?.dispose();
  }
}

/**
 * log p(completion tokens | prompt) of a packed batch at temperature τ. With `tape` the forward
 * records on it (run inside tape.run); without, it runs with no recording.
 */
export function completionLogprobs(model: Model, batch: readonly SftExample[], opts: { temperature?: number; entropy?: boolean; tape?: Tape; checkpointLayers?: boolean } = {}): CompletionLogprobs {
  const forward = () => {
    using c = completionRows(model, batch, opts);
    const r = tokenLogprobs(c.hidden, model.weights.text.lmHead, c.targets, { temperature: opts.temperature, entropy: opts.entropy });
    r.lse.dispose();  // (a tape keeps its own reference)
    return { logp: r.logp, entropy: r.entropy, lengths: c.lengths };
  };
  const { logp, entropy, lengths } = opts.tape ? opts.tape.run(forward) : noGrad(forward);
  return { logp, entropy, lengths, [Symbol.dispose]: () => disposeAll(logp, entropy) };
}

/** Watches the trainable parameters on a new tape: the model's own, or `params` (LoRA adapters). */
export function trainingTape(model: Model, isTrainable: (name: string) => boolean, params?: ParamSource): Tape {
  return new Tape().watch(...trainableTensors(params ?? model.weights, isTrainable));
}

/** Backpropagates `seed` (∂loss/∂root, consumed) from `root` through the recorded forward into `grads`. */
export function backwardInto(tape: Tape, root: F32, seed: F32, grads: GradBuffers): void {
  tape.backward(root, seed, (param, g) => grads.add(param, g));
}

export interface SftBackwardResult {
  /** Sum of −log p over the completion tokens of the batch. */
  lossSum: number;
  /** Number of completion tokens in the batch. */
  tokens: number;
  /** Wall time of the recorded forward (loss included) and of the backward, ms (benchmarks). */
  forwardMs: number;
  backwardMs: number;
}

/**
 * Forward and backward of one packed batch: adds ∂(lossScale · Σ −log p)/∂θ into `grads` for
 * every parameter `isTrainable` accepts. `lossScale` = 1 / (completion tokens of the whole
 * optimiser step) gives the token-mean loss over gradient-accumulation micro-batches.
 */
export function sftBackward(model: Model, batch: readonly SftExample[], grads: GradBuffers,
  opts: { isTrainable: (name: string) => boolean; lossScale: number; checkpointLayers?: boolean; params?: ParamSource }): SftBackwardResult {
  const t0 = performance.now();
  using tape = trainingTape(model, opts.isTrainable, opts.params);
  using rows = tape.run(() => completionRows(model, batch, opts));
  // The loss's upstream gradient is known before its forward (−lossScale per token), so the
  // cross-entropy computes its backward in the same pass (each chunk's logits made once).
  const lmHead = model.weights.text.lmHead;
  const tokens = rows.targets.size;
  using dlogp = Tensor.full([tokens], -opts.lossScale, { device: model.device });
  // lm_head's gradient accumulates straight into its buffer (no second vocab × hidden array).
  using dLmHead = tape.needsGrad(lmHead) ? grads.target(lmHead) : undefined;
  using loss = noGrad(() => tokenLogprobs(rows.hidden, lmHead, rows.targets, { grad: { dlogp, dLmHead } }));
  let lossSum = 0;
  for (const lp of loss.logp.toArray()) lossSum -= lp;
  const t1 = performance.now();
  backwardInto(tape, rows.hidden, loss.dhidden!, grads);
  return { lossSum, tokens, forwardMs: t1 - t0, backwardMs: performance.now() - t1 };
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
export async function sftLossAndGrads(model: Model, example: SftExample, opts: { trainable?: Trainable; checkpointLayers?: boolean; lora?: LoraAdapters } = {}): Promise<SftLossAndGrads> {
  if (opts.lora && opts.trainable !== undefined) throw new Error("sftLossAndGrads: give 'trainable' or 'lora', not both (with LoRA only the adapters train)");
  const params: ParamSource = opts.lora ?? model.weights;
  const isTrainable = opts.lora ? () => true : trainablePredicate(model.weights, opts.trainable);
  const n = Array.from(example?.completionIds ?? []).length;
  if (n === 0) throw new RangeError('completionIds is empty: there is nothing to compute a loss on');
  using grads = new GradBuffers(params);
  const r = sftBackward(model, [example], grads, { isTrainable, lossScale: 1 / n, checkpointLayers: opts.checkpointLayers, params });
  const names = [...params.params.keys()].filter(isTrainable);
  return { loss: r.lossSum / r.tokens, grads: grads.toArrays(names) };
}
