// Exact gradients through the whole model: sftLossAndGrads' loss equals minus the mean of
// scoreCompletion (the inference path), and its gradients — every parameter, vision tower
// included — match directional finite differences of that loss, with tied and untied embeddings.
import test from 'ava';
import { directionalCheck } from './directional-check.js';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, openSafetensors, saveSafetensors, sftLossAndGrads } from '../dist/index.js';
import { freshSeed, rng } from './helpers.js';
import { goldenDir, inputsOf, loadCase } from './model-golden-helpers.js';

/** The golden tiny model (untied) or the same weights with tie_word_embeddings (no lm_head). */
async function tinyModelDir(tied) {
  const src = goldenDir('tiny-model');
  if (!tied) return src;
  const dir = mkdtempSync(join(tmpdir(), 'gmai-tied-'));
  const config = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...config, tie_word_embeddings: true }));
  for (const f of ['generation_config.json', 'preprocessor_config.json']) copyFileSync(join(src, f), join(dir, f));
  const file = await openSafetensors(join(src, 'model.safetensors'));
  const tensors = {};
  for (const name of file.keys()) if (name !== 'lm_head.weight') tensors[name] = file.get(name);
  await saveSafetensors(join(dir, 'model.safetensors'), tensors);
  file.close();
  return dir;
}

async function setup(t, caseName, tied) {
  const c = await loadCase(caseName);
  const model = await loadModel(await tinyModelDir(tied), { dtype: 'float32' });
  t.teardown(() => model.dispose());
  const seed = freshSeed();
  const r = rng(seed);
  const completionIds = Array.from({ length: 6 }, () => Math.floor(r.next() * 400));
  return { model, example: { ...inputsOf(c), completionIds }, seed };
}

test('loss equals −mean(scoreCompletion) on an image prompt', async (t) => {
  const { model, example, seed } = await setup(t, 'single-image-f32', false);
  const { loss } = await sftLossAndGrads(model, example);
  const lp = await model.scoreCompletion(example, example.completionIds);
  const expected = -lp.reduce((s, x) => s + x, 0) / lp.length;
  t.true(Math.abs(loss - expected) <= 1e-5 * Math.max(1, Math.abs(expected)), `loss ${loss} vs ${expected} (seed ${seed})`);
});

for (const [caseName, tied] of [['single-image-f32', false], ['single-image-f32', true], ['text-only-f32', true]]) {
  test(`gradients of every parameter match directional finite differences (${caseName}, ${tied ? 'tied' : 'untied'} embeddings, trainable 'all')`, async (t) => {
    const { model, example, seed } = await setup(t, caseName, tied);
    const { grads } = await sftLossAndGrads(model, example, { trainable: 'all' });
    const params = new Map(model.parameters());
    t.deepEqual([...grads.keys()].sort(), [...params.keys()].sort(), 'a gradient for every parameter');
    for (const [name, g] of grads) t.is(g.length, params.get(name).size, `${name}: gradient size`);
    // Three random directions; in each, d/dε L(θ + ε·D) by finite differences vs Σ grad·D.
    const r = rng(seed + 1);
    const score = async () => {
      const lp = await model.scoreCompletion(example, example.completionIds);
      return -lp.reduce((s, x) => s + x, 0) / lp.length;
    };
    for (let trial = 0; trial < 3; trial++) {
      const { numeric, predicted, rel } = await directionalCheck({ params, grads, loss: score, r, eps: 5e-4 });
      t.log(`direction ${trial}: relative difference ${rel.toExponential(2)}`);
      t.true(rel < 2e-3, `direction ${trial} (seed ${seed}): finite differences ${numeric} vs gradient·direction ${predicted} (relative ${rel})`);
    }
  });
}

test("trainable 'default' freezes the vision blocks and patch embedding, trains the merger and decoder", async (t) => {
  const { model, example } = await setup(t, 'single-image-f32', false);
  const { grads } = await sftLossAndGrads(model, example);
  const names = [...grads.keys()];
  t.false(names.some((n) => n.startsWith('visual.blocks.') || n.startsWith('visual.patch_embed')), names.filter((n) => n.startsWith('visual.')).join(', '));
  t.true(names.some((n) => n.startsWith('visual.merger.')));
  t.true(names.includes('lm_head.weight') && names.includes('model.embed_tokens.weight'));
  t.true(grads.get('visual.merger.mlp.0.weight').some((v) => v !== 0), 'the merger receives a gradient');
});

test('activation checkpointing per layer gives the same loss and gradients', async (t) => {
  const { model, example, seed } = await setup(t, 'single-image-f32', false);
  const plain = await sftLossAndGrads(model, example, { trainable: 'all' });
  const ckpt = await sftLossAndGrads(model, example, { trainable: 'all', checkpointLayers: true });
  t.is(ckpt.loss, plain.loss);
  for (const [name, g] of plain.grads) {
    const h = ckpt.grads.get(name);
    const worst = g.reduce((w, v, i) => Math.max(w, Math.abs(v - h[i])), 0);
    t.true(worst <= 1e-6 * (1 + Math.max(...g.map(Math.abs))), `${name} (seed ${seed}): max difference ${worst}`);
  }
});
