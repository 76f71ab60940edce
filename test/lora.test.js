// LoRA: adapters on the projections of both towers train alone (base weights frozen), with
// gradients that match directional finite differences; a fresh adapter (B = 0) changes nothing;
// the adapter is saved in PEFT's layout; merging (in memory, by loadModel's { adapter }, or
// into a checkpoint by mergeLora) gives the adapter model's logits; a LoRA SFT run lowers the loss.
import test from 'ava';
import { directionalCheck } from './directional-check.js';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  attachLora, loadModel, mergeLora, openSafetensors, reasoningTrace, saveLoraAdapter, sftLossAndGrads, writeSyntheticDataset, writeTinyModel,
} from '../dist/index.js';
import { checkInputs } from '../dist/model/inputs.js';
import { embedPacked } from '../dist/model/packing.js';
import { lmHeadLogits, packedPlan, runLayers } from '../dist/model/decoder.js';
import { runSft } from '../dist/train/sft-loop.js';
import { Tape } from '../dist/tape.js';
import { cast } from '../dist/ops/basic.js';
import { saveSafetensors } from '../dist/io/safetensors.js';
import { freshSeed, rng } from './helpers.js';
import { goldenDir, inputsOf, loadCase } from './model-golden-helpers.js';

const ALL = { r: 2, alpha: 6, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], vision: true };

async function setup(t, caseName = 'single-image-f32') {
  const c = await loadCase(caseName);
  const model = await loadModel(goldenDir('tiny-model'), { dtype: 'float32' });
  t.teardown(() => model.dispose());
  const seed = freshSeed();
  const r = rng(seed);
  const completionIds = Array.from({ length: 5 }, () => Math.floor(r.next() * 400));
  return { model, example: { ...inputsOf(c), completionIds }, seed, r };
}

/** Fills every B (zeros at init) with small random values, so that A's gradient is not zero. */
function randomizeB(lora, r, size = 0.2) {
  for (const [name, t] of lora.params) if (name.includes('lora_B')) t.write(Float32Array.from({ length: t.size }, () => (r.next() * 2 - 1) * size));
}

/**
 * Logits [seq, vocab] of the training path (adapters applied): run under a tape that watches
 * nothing (so the vision tower takes its training plan too, and nothing is recorded).
 */
function trainingPathLogits(model, inputs) {
  const tape = new Tape();
  const hidden = tape.run(() => {
    const checked = checkInputs(inputs, model.config, model.device);
    const packed = embedPacked(model.weights, model.config, [checked]);
    try {
      return runLayers(model.weights.text, model.config.text, packed.x, packed.positionIds, packedPlan(packed.cuSeqlens));
    } finally {
      packed.x.dispose();
      if (checked.ownsPixels) checked.pixels?.dispose();
    }
  });
  try {
    if (tape.length !== 0) throw new Error('the tape recorded nodes: something was watched');
    return lmHeadLogits(model.weights.text, hidden);
  } finally {
    hidden.dispose();
  }
}

function maxGap(a, b) {
  let worst = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Number.isNaN(a[i] - b[i]) ? Infinity : Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { worst, scale };
}

test('a fresh adapter (B = 0) leaves the loss and logits unchanged', async (t) => {
  const { model, example } = await setup(t);
  const before = (await sftLossAndGrads(model, example)).loss;
  const logitsBefore = trainingPathLogits(model, example);
  const lora = attachLora(model, { ...ALL, dropout: 0.1, seed: 3 });
  t.teardown(() => lora.dispose());
  const after = await sftLossAndGrads(model, example, { lora });
  t.is(after.loss, before);
  t.deepEqual(trainingPathLogits(model, example), logitsBefore);
  for (const [name, t2] of lora.params) if (name.includes('lora_A')) t.true(t2.toArray().some((v) => v !== 0), `${name} is initialised`);
});

for (const dropout of [0, 0.3]) {
  test(`adapter gradients match directional finite differences; only adapters get gradients (dropout ${dropout})`, async (t) => {
    const { model, example, seed, r } = await setup(t);
    const lora = attachLora(model, { ...ALL, dropout, seed: 11 });
    t.teardown(() => lora.dispose());
    randomizeB(lora, r);
    const frozen = new Map(model.parameters().map(([n, p]) => [n, p.toArray()]));
    const { grads } = await sftLossAndGrads(model, example, { lora });
    t.deepEqual([...grads.keys()].sort(), [...lora.params.keys()].sort(), 'gradients exactly for the adapters');
    t.true(grads.has('base_model.model.model.visual.blocks.0.attn.qkv.lora_A.weight') && grads.has('base_model.model.model.language_model.layers.1.mlp.down_proj.lora_B.weight'));
    for (const [name, g] of grads) t.true(g.some((v) => v !== 0), `${name} receives a gradient`);
    const loss = async () => (await sftLossAndGrads(model, example, { lora })).loss;
    for (let trial = 0; trial < 3; trial++) {
      const { numeric, predicted, rel } = await directionalCheck({ params: lora.params, grads, loss, r, eps: 2e-3 });
      t.true(rel < 2e-3, `direction ${trial} (seed ${seed}): finite differences ${numeric} vs gradient·direction ${predicted} (relative ${rel})`);
      t.log(`direction ${trial}: finite differences ${numeric.toPrecision(6)}, gradient·direction ${predicted.toPrecision(6)}, relative ${rel.toExponential(2)}`);
    }
    for (const [n, p] of model.parameters()) t.deepEqual(p.toArray(), frozen.get(n), `base weight ${n} untouched`);
  });
}

test("saved adapter: PEFT's tensor names, shapes and adapter_config.json", async (t) => {
  const { model, r } = await setup(t);
  const cfg = model.config;
  const lora = attachLora(model, { r: 3, alpha: 12, dropout: 0.05, targetModules: ['q_proj', 'v_proj', 'down_proj'], vision: ['qkv', 'mlp.0'] });
  t.teardown(() => lora.dispose());
  randomizeB(lora, r);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-'));
  await saveLoraAdapter(dir, lora, 'some/base-model');
  const f = openSafetensors(join(dir, 'adapter_model.safetensors'));
  t.teardown(() => f.close());
  const H = cfg.text.hiddenSize, V = cfg.vision.hiddenSize;
  const expected = {
    'base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_A.weight': [3, H],
    'base_model.model.model.language_model.layers.0.self_attn.q_proj.lora_B.weight': [cfg.text.numHeads * cfg.text.headDim, 3],
    'base_model.model.model.language_model.layers.1.self_attn.v_proj.lora_B.weight': [cfg.text.numKvHeads * cfg.text.headDim, 3],
    'base_model.model.model.language_model.layers.0.mlp.down_proj.lora_A.weight': [3, cfg.text.intermediateSize],
    'base_model.model.model.visual.blocks.0.attn.qkv.lora_A.weight': [3, V],
    'base_model.model.model.visual.blocks.0.attn.qkv.lora_B.weight': [3 * V, 3],
    'base_model.model.model.visual.merger.mlp.0.lora_B.weight': [model.weights.params.get('visual.merger.mlp.0.weight').shape[0], 3],
  };
  for (const [name, shape] of Object.entries(expected)) {
    t.true(f.keys().includes(name), `${name} saved`);
    t.deepEqual(f.info(name).shape, shape, name);
    t.is(f.info(name).dtype, 'float32');
  }
  const nModules = cfg.text.numLayers * 3 + cfg.vision.depth + 1;
  t.is(f.keys().length, 2 * nModules);
  t.false(f.keys().some((k) => k.includes('k_proj') || k.includes('gate_proj') || k.includes('.default.')));
  t.is(f.metadata.format, 'pt');
  // B as trained (its q/k/v parts were views of it)
  t.deepEqual(f.get('base_model.model.model.visual.blocks.1.attn.qkv.lora_B.weight').toArray(), lora.params.get('base_model.model.model.visual.blocks.1.attn.qkv.lora_B.weight').toArray());

  const c = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
  t.like(c, { peft_type: 'LORA', r: 3, lora_alpha: 12, lora_dropout: 0.05, bias: 'none', task_type: 'CAUSAL_LM', fan_in_fan_out: false, base_model_name_or_path: 'some/base-model', use_dora: false, use_rslora: false, inference_mode: true });
  // PEFT full-matches a string target_modules against module names.
  const re = new RegExp(`^(?:${c.target_modules})$`);
  for (const m of ['model.layers.0.self_attn.q_proj', 'model.layers.1.mlp.down_proj', 'visual.blocks.1.attn.qkv', 'visual.merger.mlp.0', 'model.language_model.layers.3.self_attn.v_proj']) t.true(re.test(m), `target_modules matches ${m}`);
  for (const m of ['model.layers.0.self_attn.k_proj', 'visual.blocks.0.mlp.down_proj', 'visual.blocks.0.attn.proj', 'visual.merger.mlp.2', 'lm_head', 'model.layers.0.mlp']) t.false(re.test(m), `target_modules does not match ${m}`);
});

test('merged weights give the adapter model’s logits: in memory, loadModel({ adapter }) and mergeLora', async (t) => {
  const { model, example, r } = await setup(t);
  const lora = attachLora(model, { ...ALL, seed: 5 });
  t.teardown(() => lora.dispose());
  randomizeB(lora, r, 0.5);
  const adapterLogits = trainingPathLogits(model, example);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-'));
  await saveLoraAdapter(join(dir, 'adapter'), lora, goldenDir('tiny-model'));
  lora.detach();
  const plain = trainingPathLogits(model, example);
  t.true(maxGap(adapterLogits, plain).worst > 1e-2, 'the adapter changes the logits at this size');

  const withAdapter = await loadModel(goldenDir('tiny-model'), { dtype: 'float32', adapter: join(dir, 'adapter') });
  t.teardown(() => withAdapter.dispose());
  const { logits } = await withAdapter.forward(example);
  const g = maxGap(logits, adapterLogits);
  t.true(g.worst <= 1e-4 * Math.max(1, g.scale), `loadModel({ adapter }) forward vs adapter model: max gap ${g.worst} (logits up to ${g.scale})`);

  await mergeLora(goldenDir('tiny-model'), join(dir, 'adapter'), join(dir, 'merged'));
  t.true(existsSync(join(dir, 'merged', 'model.safetensors')) && existsSync(join(dir, 'merged', 'config.json')));
  const merged = await loadModel(join(dir, 'merged'));
  t.teardown(() => merged.dispose());
  t.is(merged.dtype, 'float32');
  t.deepEqual((await merged.forward(example)).logits, logits, 'mergeLora checkpoint = loadModel({ adapter })');

  // In memory: W += scale·B·A on the model itself, then its inference path.
  lora.mergeIntoModel();
  const inMemory = (await model.forward(example)).logits;
  const m = maxGap(inMemory, adapterLogits);
  t.true(m.worst <= 1e-4 * Math.max(1, m.scale), `merged in memory vs adapter model: max gap ${m.worst}`);
  t.log(`adapter-model vs merged logits: max gap ${g.worst} (loadModel({ adapter })), ${m.worst} (in memory); logits up to ${g.scale}`);
});

test('loadModel({ adapter }) reads both module layouts (older PEFT: model.layers.…, visual.…) and names a foreign module', async (t) => {
  const { model, example, r } = await setup(t);
  const lora = attachLora(model, { ...ALL, seed: 9 });
  t.teardown(() => lora.dispose());
  randomizeB(lora, r, 0.5);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-'));
  await saveLoraAdapter(join(dir, 'nested'), lora, goldenDir('tiny-model'));
  // The same adapter under the flat names older PEFT versions wrote.
  const flatName = (n) => n.replace('base_model.model.model.language_model.', 'base_model.model.model.').replace('base_model.model.model.visual.', 'base_model.model.visual.');
  const src = openSafetensors(join(dir, 'nested', 'adapter_model.safetensors'));
  const flat = new Map(src.keys().map((k) => [flatName(k), src.get(k)]));
  t.true([...flat.keys()].some((k) => k.startsWith('base_model.model.model.layers.')) && [...flat.keys()].some((k) => k.startsWith('base_model.model.visual.')));
  mkdirSync(join(dir, 'flat'));
  await saveSafetensors(join(dir, 'flat', 'adapter_model.safetensors'), flat, { format: 'pt' });
  copyFileSync(join(dir, 'nested', 'adapter_config.json'), join(dir, 'flat', 'adapter_config.json'));
  const logitsWith = async (adapter) => {
    const m = await loadModel(goldenDir('tiny-model'), { dtype: 'float32', adapter });
    try { return (await m.forward(example)).logits; } finally { m.dispose(); }
  };
  t.deepEqual(await logitsWith(join(dir, 'flat')), await logitsWith(join(dir, 'nested')));
  // A module this model does not have: the error names the tensor.
  const foreign = new Map([['base_model.model.encoder.block.0.q.lora_A.weight', flat.values().next().value]]);
  mkdirSync(join(dir, 'foreign'));
  await saveSafetensors(join(dir, 'foreign', 'adapter_model.safetensors'), foreign, { format: 'pt' });
  copyFileSync(join(dir, 'nested', 'adapter_config.json'), join(dir, 'foreign', 'adapter_config.json'));
  src.close();
  await t.throwsAsync(loadModel(goldenDir('tiny-model'), { adapter: join(dir, 'foreign') }), { message: /tensor 'base_model\.model\.encoder\.block\.0\.q\.lora_A\.weight': 'encoder\.block\.0\.q' is not a module of Qwen2\.5-VL/ });
});

test('withMerged: the inference path runs the adapter model, then the base weights come back bit for bit; withoutAdapters: the base model', async (t) => {
  const { model, example, r } = await setup(t);
  const bytesOf = (w) => Buffer.from(w.toArray().buffer.slice(0));
  const before = new Map([...model.weights.params].map(([n, w]) => [n, bytesOf(w)]));
  const basePath = trainingPathLogits(model, example);
  const lora = attachLora(model, { ...ALL, seed: 7 });
  t.teardown(() => lora.dispose());
  randomizeB(lora, r, 0.5);
  const adapterLogits = trainingPathLogits(model, example);
  t.true(maxGap(adapterLogits, basePath).worst > 1e-2, 'the adapter changes the logits at this size');
  // GRPO's reference policy: the adapters off for the call, on again after it.
  t.deepEqual(lora.withoutAdapters(() => trainingPathLogits(model, example)), basePath);
  t.deepEqual(trainingPathLogits(model, example), adapterLogits);
  // GRPO's rollouts: the inference path (which refuses attached adapters) on merged weights.
  const inside = await lora.withMerged(async () => (await model.forward(example)).logits);
  const g = maxGap(inside, adapterLogits);
  t.true(g.worst <= 1e-4 * Math.max(1, g.scale), `inference inside withMerged vs adapter model: max gap ${g.worst}`);
  for (const [n, w] of model.weights.params) t.true(bytesOf(w).equals(before.get(n)), `${n} restored exactly`);
  t.deepEqual(trainingPathLogits(model, example), adapterLogits, 'adapters attached again');
  // A failing call still restores the weights and the adapters.
  await t.throwsAsync(lora.withMerged(async () => { throw new Error('boom'); }), { message: 'boom' });
  for (const [n, w] of model.weights.params) t.true(bytesOf(w).equals(before.get(n)), `${n} restored after a throw`);
  t.deepEqual(trainingPathLogits(model, example), adapterLogits);
});

test('the inference path refuses an attached adapter instead of ignoring it', async (t) => {
  const { model, example } = await setup(t, 'text-only-f32');
  const lora = attachLora(model, { r: 2, alpha: 2, targetModules: ['q_proj'] });
  t.teardown(() => lora.dispose());
  await t.throwsAsync(model.forward(example), { message: /LoRA adapter is attached .* merge it first/ });
  lora.mergeIntoModel();
  await t.notThrowsAsync(model.forward(example));
});

test('loadModel({ adapter }) names a bad adapter', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-'));
  await t.throwsAsync(loadModel(goldenDir('tiny-model'), { adapter: dir }), { message: /no adapter_config\.json/ });
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r: 2, lora_alpha: 4, use_dora: true }));
  writeFileSync(join(dir, 'adapter_model.safetensors'), '');
  await t.throwsAsync(loadModel(goldenDir('tiny-model'), { adapter: dir }), { message: /DoRA/ });
});

async function sftFixture() {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-sft-'));
  await writeTinyModel(join(dir, 'model'), { seed: 3, layers: 2, visionDepth: 2 });
  const ds = await writeSyntheticDataset(join(dir, 'data'), { seed: 5, trainCount: 8, heldOutCount: 4, format: 'png', size: 64 });
  writeFileSync(join(dir, 'data', 'sft.jsonl'), ds.train.map((r) => JSON.stringify({ ...r, response: reasoningTrace(r) })).join('\n') + '\n');
  return dir;
}

const loraConfig = (dir, output, extra = {}) => ({
  model: join(dir, 'model'), data: join(dir, 'data', 'sft.jsonl'), output: join(dir, output),
  steps: 10, batchSize: 8, maxTokens: 2048, learningRate: 1e-2, schedule: 'cosine', warmupSteps: 1,
  weightDecay: 0, maxGradNorm: 1, seed: 7, saveEvery: 5,
  lora: { r: 8, alpha: 16, dropout: 0.05, vision: ['qkv', 'mlp.0', 'mlp.2'] }, ...extra,
});

test('LoRA SFT lowers the loss; checkpoints hold the adapter (PEFT layout) and optimizer, not the weights; resume is exact', async (t) => {
  const dir = await sftFixture();
  const res = await runSft(loraConfig(dir, 'run'));
  const first = res.metrics[0].loss, last = res.metrics.at(-1).loss;
  t.true(last < 0.8 * first, `loss ${first} → ${last}: ${res.metrics.map((m) => m.loss.toFixed(3)).join(' ')}`);
  t.log(`LoRA SFT loss by step: ${res.metrics.map((m) => m.loss.toFixed(3)).join(' ')}`);
  const ck = join(dir, 'run', 'checkpoint-10');
  for (const f of ['adapter_model.safetensors', 'adapter_config.json', 'optimizer.safetensors', 'trainer_state.json']) t.true(existsSync(join(ck, f)), f);
  t.false(existsSync(join(ck, 'model.safetensors')));
  // the trained adapter merges into the base and changes it
  const base = await loadModel(join(dir, 'model'));
  const tuned = await loadModel(join(dir, 'model'), { adapter: ck });
  t.teardown(() => { base.dispose(); tuned.dispose(); });
  const ids = [1, 2, 3, 4];
  t.true(maxGap((await tuned.forward({ inputIds: ids })).logits, (await base.forward({ inputIds: ids })).logits).worst > 1e-3);

  // 4 steps straight = 2, stop, resume, 2 (adapter and optimizer bit-identical)
  await runSft(loraConfig(dir, 'straight', { steps: 4, saveEvery: 2 }));
  const controller = new AbortController();
  await t.throwsAsync(runSft(loraConfig(dir, 'resumed', { steps: 4, saveEvery: 2 }), {
    signal: controller.signal, onStep: (m) => { if (m.step === 2) controller.abort(new Error('stop at 2')); },
  }), { message: 'stop at 2' });
  await runSft(loraConfig(dir, 'resumed', { steps: 4, saveEvery: 2 }), { resume: true });
  for (const f of ['adapter_model.safetensors', 'optimizer.safetensors']) {
    t.true(readFileSync(join(dir, 'straight', 'checkpoint-4', f)).equals(readFileSync(join(dir, 'resumed', 'checkpoint-4', f))), `${f} differs after resume`);
  }
});

test('a bad lora config names the key', async (t) => {
  const dir = await sftFixture();
  await t.throwsAsync(runSft(loraConfig(dir, 'bad', { lora: { r: 0, alpha: 1 } })), { message: /'lora\.r' must be an integer ≥ 1, got 0/ });
  await t.throwsAsync(runSft(loraConfig(dir, 'bad', { lora: { r: 2, alpha: 1, rank: 3 } })), { message: /unknown key 'lora\.rank'/ });
  await t.throwsAsync(runSft(loraConfig(dir, 'bad', { lora: { r: 2, alpha: 1, targetModules: ['x_proj'] } })), { message: /'lora\.targetModules' has 'x_proj'/ });
});

test('merging into bfloat16 weights rounds W + scale·B·A (float64 reference) once to bfloat16', async (t) => {
  const { model, r, seed } = await setup(t);
  const lora = attachLora(model, { r: 2, alpha: 8, targetModules: ['q_proj'], vision: ['qkv'] });
  t.teardown(() => lora.dispose());
  randomizeB(lora, r, 0.5);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-'));
  await saveLoraAdapter(dir, lora, 'base');
  const base = await loadModel(goldenDir('tiny-model'), { dtype: 'bfloat16' });
  const merged = await loadModel(goldenDir('tiny-model'), { dtype: 'bfloat16', adapter: dir });
  t.teardown(() => { base.dispose(); merged.dispose(); });
  for (const module of ['model.layers.1.self_attn.q_proj', 'visual.blocks.0.attn.qkv']) {
    const asF32 = (w) => { const c = cast(w, 'float32'); try { return c.toArray(); } finally { c.dispose(); } };
    const w0 = asF32(base.weights.params.get(`${module}.weight`));
    const got = asF32(merged.weights.params.get(`${module}.weight`));
    const peft = (which) => `base_model.model.${module.replace(/^model\./, 'model.language_model.').replace(/^visual\./, 'model.visual.')}.lora_${which}.weight`;
    const a = lora.params.get(peft('A')), b = lora.params.get(peft('B'));
    const A = a.toArray(), B = b.toArray(), rank = a.shape[0], inF = a.shape[1];
    let worst = 0;
    for (let o = 0; o < b.shape[0]; o++) {
      for (let i = 0; i < inF; i++) {
        let d = 0;
        for (let k = 0; k < rank; k++) d += B[o * rank + k] * A[k * inF + i];
        const want = w0[o * inF + i] + 4 * d;
        // One bf16 rounding: within half a unit in the last place (8 significant bits) of the
        // exact value, plus the float32 accumulation's error, relative to the summed terms
        // (which may cancel to a value far smaller than themselves).
        const ulp = 2 ** (Math.floor(Math.log2(Math.abs(want) || 1e-30)) - 7);
        const f32Slack = 2 ** -21 * (Math.abs(w0[o * inF + i]) + Math.abs(4 * d));
        worst = Math.max(worst, (Math.abs(got[o * inF + i] - want) - f32Slack) / ulp);
      }
    }
    t.true(worst <= 0.5 + 1e-3, `${module}: worst error ${worst} ulp (seed ${seed})`);
  }
});

test('gmai train merge writes the merged checkpoint; missing arguments print the usage', async (t) => {
  const { model, example, r } = await setup(t, 'text-only-f32');
  const lora = attachLora(model, { r: 2, alpha: 4, targetModules: ['o_proj', 'up_proj'] });
  t.teardown(() => lora.dispose());
  randomizeB(lora, r, 0.5);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-lora-cli-'));
  await saveLoraAdapter(join(dir, 'adapter'), lora, goldenDir('tiny-model'));
  const gmai = fileURLToPath(new URL('../bin/gmai.js', import.meta.url));
  const run = promisify(execFile);
  const { stdout } = await run(process.execPath, [gmai, 'train', 'merge', '--model', goldenDir('tiny-model'), '--adapter', join(dir, 'adapter'), '--output', join(dir, 'merged')]);
  t.regex(stdout, /merged .* into /);
  const merged = await loadModel(join(dir, 'merged'));
  const direct = await loadModel(goldenDir('tiny-model'), { adapter: join(dir, 'adapter') });
  t.teardown(() => { merged.dispose(); direct.dispose(); });
  t.deepEqual((await merged.forward(example)).logits, (await direct.forward(example)).logits);
  const err = await run(process.execPath, [gmai, 'train', 'merge', '--model', goldenDir('tiny-model')]).catch((e) => e);
  t.is(err.code, 2);
  t.regex(err.stderr, /gmai train merge: option --adapter is required/);
});
