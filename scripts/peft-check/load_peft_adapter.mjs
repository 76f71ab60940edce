// Reverse direction: can gmai-vl-r1's loadModel({ adapter }) read the adapter that PEFT itself saved
// (peft_check.py writes <out>/peft_resaved, names model.language_model.* / model.visual.*)?
// Usage: node load_peft_adapter.mjs [outDir] [adapterSubdir]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../dist/index.js';
const out = process.argv[2] ?? 'peft-check-out';
const sub = process.argv[3] ?? 'peft_resaved';
const meta = JSON.parse(readFileSync(join(out, 'meta.json'), 'utf8'));
try {
  const model = await loadModel(meta.modelDir, { dtype: 'float32', adapter: join(out, sub) });
  const c = meta.cases.text;
  const { logits } = await model.forward({ inputIds: c.inputIds });
  const ref = new Float32Array(readFileSync(join(out, 'lora_text.f32')).buffer.slice(0));
  let worst = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) { worst = Math.max(worst, Math.abs(logits[i] - ref[i])); scale = Math.max(scale, Math.abs(ref[i])); }
  console.log(`loadModel({ adapter: ${sub} }) loaded; text logits vs our adapter model: max|diff| ${worst.toExponential(3)} (max|logit| ${scale.toFixed(3)})`);
  model.dispose();
} catch (e) {
  console.log(`loadModel({ adapter: ${sub} }) REFUSED: ${e.message}`);
}
