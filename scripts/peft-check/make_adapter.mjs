// Makes a LoRA adapter with gmai-vl-r1, saves it in PEFT layout, and writes our logits
// (base and adapter model) for a text-only prompt and the single-image-f32 golden case.
// Usage: node make_adapter.mjs [outDir]   (default /tmp/peftcheck/out)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { attachLora, loadModel, saveLoraAdapter } from '../../dist/index.js';
import { createRng } from '../../dist/random.js';
import { inputsOf, loadCase } from '../../test/model-golden-helpers.js';

const MAIN = new URL('../..', import.meta.url).pathname;
const modelDir = join(MAIN, 'test/fixtures/qwen2_5_vl/tiny-model');
const out = process.argv[2] ?? 'peft-check-out';
const adapterDir = join(out, 'adapter');
mkdirSync(out, { recursive: true });

const textIds = [444, 17, 250, 3, 99, 401, 128, 7, 333, 56, 210, 445]; // 12 ids < 512
const imgCase = await loadCase('single-image-f32');
const imgInputs = inputsOf(imgCase);
const cases = {
  text: { inputIds: textIds },
  image: imgInputs,
};
const meta = { modelDir, adapterDir, cases: {} };

function dump(name, logits, n) {
  const f32 = Float32Array.from(logits);
  writeFileSync(join(out, `${name}.f32`), Buffer.from(f32.buffer));
  return f32.length / n;
}

// Base logits.
{
  const model = await loadModel(modelDir, { dtype: 'float32' });
  for (const [k, inp] of Object.entries(cases)) {
    const { logits } = await model.forward(inp);
    const seq = inp.inputIds.length;
    const vocab = dump(`base_${k}`, logits, seq);
    meta.cases[k] = { seq, vocab, inputIds: Array.from(inp.inputIds, Number), imageGridThw: inp.imageGridThw ?? null };
  }
  model.dispose();
}

// Adapter model.
{
  const model = await loadModel(modelDir, { dtype: 'float32' });
  const lora = attachLora(model, {
    r: 4, alpha: 8,
    targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
    vision: true, seed: 3,
  });
  const r = createRng(12345);
  let nB = 0;
  for (const [name, t] of lora.params) {
    if (name.includes('lora_B')) { t.write(Float32Array.from({ length: t.size }, () => r.uniform(-0.2, 0.2))); nB++; }
  }
  meta.nParams = lora.params.size;
  meta.nB = nB;
  await saveLoraAdapter(adapterDir, lora, modelDir);
  lora.mergeIntoModel();
  for (const [k, inp] of Object.entries(cases)) {
    const { logits } = await model.forward(inp);
    dump(`lora_${k}`, logits, inp.inputIds.length);
  }
  model.dispose();
}
// Image inputs for Python (pixel_values float32 raw).
writeFileSync(join(out, 'image_pixel_values.f32'), Buffer.from(Float32Array.from(imgInputs.pixelValues).buffer));
meta.cases.image.pixelShape = [imgInputs.pixelValues.length / 1176, 1176];
writeFileSync(join(out, 'meta.json'), JSON.stringify(meta, null, 1));
console.log(`wrote ${out}: ${meta.nParams} lora tensors (${meta.nB} B), cases ${Object.keys(meta.cases).join(', ')}`);
