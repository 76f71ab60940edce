// LoRA adapters in Hugging Face PEFT's layout, and merging one into loaded weights.
//
// A PEFT LoRA folder holds `adapter_config.json` (peft_type "LORA", r, lora_alpha, …) and
// `adapter_model.safetensors`, whose tensors are named
//   base_model.model.<module path>.lora_A.weight   [r, in]
//   base_model.model.<module path>.lora_B.weight   [out, r]
// where <module path> is the adapted Linear's module name. We write it in transformers' current
// layout (model.language_model.layers.0.self_attn.q_proj, model.visual.blocks.0.attn.qkv), as
// PEFT itself saves under transformers ≥ 4.52 (PEFT does not rename adapter keys for this model:
// the checkpoint's flat names would load as 'missing keys', leaving B = 0), and read either
// layout (older PEFT versions wrote model.layers.…, visual.…). Merging replaces W by W + (alpha / r)·B·A, computed
// in float32 and rounded once to W's dtype, so inference runs at full speed on plain weights.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../io/safetensors.js';
import { cast, matmul } from '../ops/basic.js';
import { native } from '../native.js';
import { noGrad } from '../tape.js';
import { Tensor } from '../tensor.js';
import type { F32, ModelWeights } from './weights.js';
import { canonicalName, checkpointName, detectScheme, type NamingScheme } from './weight-names.js';

export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';
const PEFT_PREFIX = 'base_model.model.';

/** PEFT's tensor name of a module's A or B matrix (`modulePath` in either layout; written nested). */
export function peftTensorName(modulePath: string, which: 'A' | 'B'): string {
  return `${PEFT_PREFIX}${moduleInLayout(modulePath, 'nested')}.lora_${which}.weight`;
}

/** A module path (a weight's name without `.weight`), given in either layout, in layout `scheme`. */
function moduleInLayout(modulePath: string, scheme: NamingScheme): string {
  const weight = `${modulePath}.weight`;
  const canonical = canonicalName(weight, detectScheme([weight]));
  if (!canonical) throw new Error(`'${modulePath}' is not a module of Qwen2.5-VL (expected model.…, model.language_model.…, visual.… or model.visual.…)`);
  return checkpointName(canonical, scheme).slice(0, -'.weight'.length);
}

/** One adapted module: W (name `<module>.weight`) += scale · B·A. */
export interface AdapterModule {
  module: string;
  a: Tensor;
  b: Tensor;
}

/** The scale PEFT applies: lora_alpha / r, or lora_alpha / √r with use_rslora. */
export function peftScale(config: Record<string, unknown>, where: string): number {
  const r = config.r, alpha = config.lora_alpha;
  if (config.peft_type !== 'LORA') throw new Error(`${where}: peft_type is ${JSON.stringify(config.peft_type)}, only "LORA" adapters are supported`);
  if (!Number.isInteger(r) || (r as number) < 1) throw new Error(`${where}: 'r' must be a positive integer, got ${JSON.stringify(r)}`);
  if (typeof alpha !== 'number' || !Number.isFinite(alpha)) throw new Error(`${where}: 'lora_alpha' must be a number, got ${JSON.stringify(alpha)}`);
  // Variants that change the maths, which this merge does not implement: refuse rather than merge wrongly.
  if (config.use_dora) throw new Error(`${where}: DoRA adapters (use_dora: true) are not supported`);
  if (config.fan_in_fan_out) throw new Error(`${where}: fan_in_fan_out: true is not supported (Qwen2.5-VL's projections are nn.Linear)`);
  for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = config[k];
    if (v && typeof v === 'object' && Object.keys(v).length) throw new Error(`${where}: per-module '${k}' is not supported`);
  }
  if (config.bias !== undefined && config.bias !== 'none') throw new Error(`${where}: bias ${JSON.stringify(config.bias)} is not supported (only "none")`);
  if (Array.isArray(config.modules_to_save) && config.modules_to_save.length) throw new Error(`${where}: modules_to_save is not supported`);
  return config.use_rslora ? alpha / Math.sqrt(r as number) : alpha / (r as number);
}

/**
 * W += scale · B·A for each module, in place in `weights` (float32 accumulation; a bfloat16 W is
 * rounded once). Checks every name and shape first, so a bad adapter changes nothing.
 */
export function mergeAdapterModules(weights: ModelWeights, modules: readonly AdapterModule[], scale: number, where: string): void {
  const targets = modules.map(({ module, a, b }) => {
    const wName = `${module}.weight`;
    const w = weights.params.get(wName);
    if (!w) throw new Error(`${where}: adapter for '${module}', but the model has no tensor '${wName}'`);
    const [out, inF] = w.shape;
    const r = a.shape[0];
    if (a.shape.length !== 2 || a.shape[1] !== inF) throw new Error(`${where}: '${peftTensorName(module, 'A')}' is [${a.shape}], expected [r, ${inF}] for '${wName}' [${w.shape}]`);
    if (b.shape.length !== 2 || b.shape[0] !== out || b.shape[1] !== r) throw new Error(`${where}: '${peftTensorName(module, 'B')}' is [${b.shape}], expected [${out}, ${r}]`);
    for (const [t, which] of [[a, 'A'], [b, 'B']] as const) {
      if (t.dtype !== 'float32' && t.dtype !== 'bfloat16' && t.dtype !== 'float16') throw new Error(`${where}: '${peftTensorName(module, which)}' has dtype ${t.dtype}; expected a float type`);
    }
    if (w.dtype !== 'float32' && w.dtype !== 'bfloat16') throw new Error(`${where}: cannot merge into '${wName}' of dtype ${w.dtype}`);
    return { w, a, b };
  });
  noGrad(() => {
    for (const { w, a, b } of targets) {
      using a32 = (a.dtype === 'float32' ? a.to(w.device) : cast(a.to(w.device), 'float32')) as F32;
      using b32 = (b.dtype === 'float32' ? b.to(w.device) : cast(b.to(w.device), 'float32')) as F32;
      if (w.dtype === 'float32') {
        matmul(b32, a32, { alpha: scale, beta: 1, out: w as F32 });
        continue;
      }
      using wf = cast(w, 'float32');
      matmul(b32, a32, { alpha: scale, beta: 1, out: wf });
      using rounded = cast(wf, w.dtype);
      native().copy(w.handle, rounded.handle);
    }
  });
}

/** Reads a PEFT LoRA folder and merges it into `weights` (see the top of this file). */
export function mergeAdapterFolder(weights: ModelWeights, dir: string): void {
  const cfgPath = join(dir, ADAPTER_CONFIG_FILE), file = join(dir, ADAPTER_WEIGHTS_FILE);
  if (!existsSync(cfgPath)) throw new Error(`adapter ${dir}: no ${ADAPTER_CONFIG_FILE}`);
  if (!existsSync(file)) throw new Error(`adapter ${dir}: no ${ADAPTER_WEIGHTS_FILE}`);
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${cfgPath}: not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  const scale = peftScale(config, cfgPath);
  const reader = openSafetensors(file);
  const tensors: Tensor[] = [];
  try {
    const byModule = new Map<string, { a?: Tensor; b?: Tensor }>();
    for (const name of reader.keys()) {
      const m = /^base_model\.model\.(.+)\.lora_([AB])\.weight$/.exec(name);
      if (!m) throw new Error(`${file}: tensor '${name}' is not a PEFT LoRA matrix (base_model.model.<module>.lora_A.weight / lora_B.weight)`);
      const t = reader.get(name);
      tensors.push(t);
      let module: string;
      try {
        module = moduleInLayout(m[1], weights.scheme);  // the loaded checkpoint's own name for it
      } catch (e) {
        throw new Error(`${file}: tensor '${name}': ${(e as Error).message}`);
      }
      const entry = byModule.get(module) ?? {};
      entry[m[2] === 'A' ? 'a' : 'b'] = t;
      byModule.set(module, entry);
    }
    const modules: AdapterModule[] = [];
    for (const [module, { a, b }] of byModule) {
      if (!a || !b) throw new Error(`${file}: '${module}' has lora_${a ? 'A' : 'B'} but no lora_${a ? 'B' : 'A'}`);
      modules.push({ module, a, b });
    }
    mergeAdapterModules(weights, modules, scale, file);
  } finally {
    for (const t of tensors) t.dispose();
    reader.close();
  }
}
