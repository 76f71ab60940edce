// gmai-vl-r1: run and train GMAI-VL-R1 (Qwen2.5-VL) from Node.js.
export { Tensor, disposeAll, numel } from './tensor.js';
export type { Device, Shape } from './tensor.js';
export type { DType } from './dtype.js';
export * as ops from './ops/index.js';
export { runtimeInfo } from './runtime.js';
export type { Runtime } from './runtime.js';
export { loadModel, Model, Session } from './model/index.js';
export type { ForwardOptions, ForwardResult, LoadModelOptions, ModelInputs, ModelConfig } from './model/index.js';
export { openSafetensors, saveSafetensors, SafetensorsError } from './io/safetensors.js';
export type { SafetensorsReader, TensorInfo, TensorMap } from './io/safetensors.js';
export { writeFileAtomic } from './io/atomic.js';
export type { AtomicData } from './io/atomic.js';
export { parseAnswer, extractLetter, isR1Format } from './infer/answer.js';
export type { ParsedAnswer, ParseOptions } from './infer/answer.js';
export * as rewards from './train/rewards.js';
export { accuracyReward, formatReward } from './train/rewards.js';
