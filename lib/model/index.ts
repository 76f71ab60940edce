// Qwen2.5-VL model: config, weights, vision tower, decoder, KV cache, public Model API.
export { loadModel, Model, Session } from './model.js';
export type { ForwardOptions, ForwardResult, LoadModelOptions } from './model.js';
export type { ModelInputs } from './inputs.js';
export { parseConfig, readConfig } from './config.js';
export type { ModelConfig, TextConfig, VisionConfig, TokenIds } from './config.js';
export { getRopeIndex, decodePositionIds, mropeCosSin } from './rope-index.js';
export type { Grid, RopeIndex } from './rope-index.js';
export { windowLayout, rotaryAngles } from './vision-layout.js';
export { KvCache } from './kv-cache.js';
