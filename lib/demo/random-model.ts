// Random-weight Qwen2.5-VL checkpoints of any shape, for demos, tests and benchmarks: writes
// config.json, generation_config.json and model.safetensors holding bf16 values for exactly
// the tensors the config requires (lib/model/weight-names). Values are seeded and cheap to
// make: uniform with the variance of N(0, 1/fan_in) for matrices, 1 ± 0.05 for norms.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveSafetensors } from '../io/safetensors.js';
import { parseConfig } from '../model/config.js';
import { checkpointName, expectedShapes } from '../model/weight-names.js';
import { Tensor, disposeAll } from '../tensor.js';

/** bf16 bit patterns of `n` values base + U(-scale·√3, scale·√3) from a xorshift stream. */
function randomBf16(n: number, seed: number, base: number, scale: number): Uint16Array {
  const out = new Uint16Array(n);
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  const a = scale * Math.sqrt(3);
  let s = (Math.imul(seed + 1, 2654435761) >>> 0) || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    f[0] = base + ((s / 4294967296) * 2 - 1) * a;
    out[i] = u[0] >>> 16;
  }
  return out;
}

export async function writeRandomModel(dir: string, config: Record<string, unknown>, opts: { seed?: number; generation?: Record<string, unknown> } = {}): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const generation = opts.generation ?? { eos_token_id: config.eos_token_id };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify(generation, null, 2));
  const cfg = parseConfig(config, { generation });
  const tensors: Record<string, Tensor> = {};
  try {
    let k = opts.seed ?? 1;
    for (const [name, shape] of expectedShapes(cfg)) {
      const n = shape.reduce((a, b) => a * b, 1);
      const isNorm = /norm|ln_q/.test(name) && shape.length === 1;
      const scale = shape.length === 1 ? 0.05 : 1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1));
      tensors[checkpointName(name, 'flat')] = Tensor.from<'bfloat16'>(randomBf16(n, k++, isNorm ? 1 : 0, scale), shape, { dtype: 'bfloat16' });
    }
    await saveSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  } finally {
    disposeAll(...Object.values(tensors));
  }
  return dir;
}
