// Optimiser ops: one native call over a whole list of tensors (the threads, or the GPU, split
// the total element count). lib/train/optim.ts builds the AdamW optimiser on these.
import { native } from '../native.js';
import type { Tensor } from '../tensor.js';

type F32 = Tensor<'float32'>;

export interface AdamwHyperparameters {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** One decoupled weight-decay coefficient per tensor (0 for norms and biases). */
  weightDecay: readonly number[];
  /** The step number, 1 for the first step (bias corrections use it). */
  step: number;
  /** Multiplies every gradient before use (gradient clipping, averaging); default 1. */
  gradScale?: number;
}

/**
 * One torch.optim.AdamW step over every tensor, in place:
 *   g = grad·gradScale;  p ← p·(1 − lr·wd);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   p ← p − lr/(1−β1^step) · m / (√v / √(1−β2^step) + eps)
 * `params` are the fp32 master weights. Where `modelWeights[i]` is given (float32 or bfloat16,
 * the size of `params[i]`), the updated master is also written there (bf16 rounded to nearest
 * even). All tensors live on one device.
 */
export function adamwStep(params: readonly F32[], grads: readonly F32[], expAvg: readonly F32[], expAvgSq: readonly F32[],
  hyper: AdamwHyperparameters, modelWeights?: readonly (Tensor<'float32' | 'bfloat16'> | undefined)[]): void {
  native().adamwStep(
    params.map((t) => t.handle), grads.map((t) => t.handle), expAvg.map((t) => t.handle), expAvgSq.map((t) => t.handle),
    modelWeights ? modelWeights.map((t) => t?.handle) : null,
    { ...hyper, weightDecay: [...hyper.weightDecay] },
  );
}

/** Σ x² over every element of every tensor, accumulated in float64 (the squared global norm). */
export function sumOfSquares(tensors: readonly F32[]): number {
  return native().sumOfSquares(tensors.map((t) => t.handle));
}
