// Loads a Qwen2.5-VL golden case (test/fixtures/qwen2_5_vl/<case>): manifest + tensors.
import { readFileSync } from 'node:fs';
import { openSafetensors } from '../dist/io/safetensors.js';
import { fixture } from './helpers.js';

export const goldenDir = (...p) => fixture('qwen2_5_vl', ...p);

/** { manifest, modelDir, tensors: Map(name → { data: number[]|Float32Array, shape, tol, meaning }) } */
export async function loadCase(name) {
  const manifest = JSON.parse(readFileSync(goldenDir(name, 'manifest.json'), 'utf8'));
  const file = await openSafetensors(goldenDir(name, manifest.tensors_file));
  const tensors = new Map();
  try {
    for (const entry of manifest.tensors) {
      const t = file.get(entry.name);
      const raw = t.toArray();
      const data = raw instanceof BigInt64Array ? Array.from(raw, Number) : raw;
      tensors.set(entry.name, { data, shape: entry.shape, tol: entry.tolerance, meaning: entry.meaning });
      t.dispose();
    }
  } finally {
    file.close();
  }
  return { manifest, modelDir: goldenDir(name, manifest.model), tensors };
}

/** (t, h, w) triples of the case's image_grid_thw (none for text only). */
export function gridsOf(c) {
  const g = c.tensors.get('image_grid_thw')?.data ?? [];
  const out = [];
  for (let i = 0; i < g.length; i += 3) out.push([g[i], g[i + 1], g[i + 2]]);
  return out;
}

export function inputsOf(c) {
  const grids = gridsOf(c);
  const inputs = { inputIds: c.tensors.get('input_ids').data };
  if (grids.length) {
    inputs.pixelValues = c.tensors.get('pixel_values').data;
    inputs.imageGridThw = grids;
  }
  return inputs;
}

/** Compares to a golden tensor at its manifest tolerance ('exact' → equality). Returns the max gap. */
export function checkTensor(t, c, name, actual, { tol } = {}) {
  const ref = c.tensors.get(name);
  if (!ref) throw new Error(`golden tensor ${name} not in case`);
  const limit = tol ?? (typeof ref.tol === 'object' ? ref.tol.max_abs : 0);
  if (actual.length !== ref.data.length) {
    t.fail(`${name}: ${actual.length} values, expected ${ref.data.length}`);
    return Infinity;
  }
  let worst = 0, at = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(Number(actual[i]) - Number(ref.data[i]));
    if (!(d <= worst)) { worst = Number.isNaN(d) ? Infinity : d; at = i; }
  }
  if (worst <= limit) t.pass(); else t.fail(`${name}: max |diff| ${worst} at ${at} (got ${actual[at]}, expected ${ref.data[at]}) exceeds ${limit}`);
  return worst;
}

const TEXT_KEYS = ['vocab_size', 'hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads',
  'num_key_value_heads', 'rms_norm_eps', 'rope_theta', 'rope_scaling', 'hidden_act', 'max_position_embeddings',
  'sliding_window', 'use_sliding_window', 'max_window_layers', 'attention_dropout', 'torch_dtype'];

/** The layout newer transformers write: text fields under text_config. */
export function nestedLayout(cfg) {
  const out = { ...cfg, text_config: {} };
  for (const k of TEXT_KEYS) {
    if (k in cfg) { out.text_config[k] = cfg[k]; delete out[k]; }
  }
  return out;
}

