// Weight loading: both tensor naming schemes (with both config layouts), tied embeddings,
// dtype handling, and errors naming the missing / unexpected / misshapen tensor.
import test from 'ava';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../dist/index.js';
import { openSafetensors, saveSafetensors } from '../dist/io/safetensors.js';
import { readJson } from './helpers.js';
import { checkTensor, goldenDir, loadCase, nestedLayout } from './model-golden-helpers.js';

const tiny = (f) => goldenDir('tiny-model', f);

/** A temp model folder: config (optionally edited) + the tiny weights renamed/filtered/edited. */
async function makeModel(t, { config = (c) => c, rename = (n) => n, edit = () => {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gmai-weights-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config(readJson(tiny('config.json')))));
  copyFileSync(tiny('generation_config.json'), join(dir, 'generation_config.json'));
  const src = await openSafetensors(tiny('model.safetensors'));
  const tensors = {};
  try {
    for (const name of src.keys()) {
      const to = rename(name);
      if (to !== null) tensors[to] = src.get(name);
    }
    edit(tensors);
    await saveSafetensors(join(dir, 'model.safetensors'), tensors);
  } finally {
    for (const x of Object.values(tensors)) x.dispose();
    src.close();
  }
  return dir;
}

/** transformers >= 4.52 names: model.language_model.*, model.visual.* */
const nestedName = (n) => n.startsWith('visual.') ? `model.${n}` : n.startsWith('model.') ? n.replace(/^model\./, 'model.language_model.') : n;

test('newer naming scheme + nested config layout give the golden logits', async (t) => {
  const c = await loadCase('text-only-f32');
  const dir = await makeModel(t, { config: nestedLayout, rename: nestedName });
  const model = await loadModel(dir);
  try {
    t.is(model.weights.scheme, 'nested');
    t.is(model.config.layout, 'nested');
    const out = await model.forward({ inputIds: c.tensors.get('input_ids').data });
    checkTensor(t, c, 'logits', out.logits);
  } finally {
    model.dispose();
  }
});

test('tied embeddings: lm_head is the embedding matrix (no copy)', async (t) => {
  const c = await loadCase('text-only-f32');
  const dir = await makeModel(t, {
    config: (cfg) => ({ ...cfg, tie_word_embeddings: true }),
    rename: (n) => (n === 'lm_head.weight' ? null : n),
  });
  const model = await loadModel(dir);
  try {
    t.is(model.weights.text.lmHead, model.weights.text.embed);
    const out = await model.forward({ inputIds: c.tensors.get('input_ids').data });
    // float64 reference: golden final-norm rows times the embedding matrix.
    const normed = c.tensors.get('text.final_norm_out').data;
    const embed = model.weights.text.embed.toArray();
    const H = 64, V = 512, T = normed.length / H;
    let worst = 0;
    for (let i = 0; i < T; i++) {
      for (let v = 0; v < V; v++) {
        let acc = 0;
        for (let k = 0; k < H; k++) acc += normed[i * H + k] * embed[v * H + k];
        worst = Math.max(worst, Math.abs(acc - out.logits[i * V + v]));
      }
    }
    t.true(worst < 2e-4, `tied logits off by ${worst}`);
  } finally {
    model.dispose();
  }
});

test('bf16 stays bf16 by default; dtype converts once at load; progress is reported', async (t) => {
  const events = [];
  const bf = await loadModel(goldenDir('tiny-model-bf16'), { onProgress: (p) => events.push(p) });
  try {
    t.is(bf.dtype, 'bfloat16');
    t.is(bf.weights.text.embed.dtype, 'bfloat16');
    t.is(bf.weights.vision.blocks[0].q.weight.dtype, 'bfloat16');
    t.is(bf.weights.text.layers[0].q.bias.dtype, 'float32');
    t.true(events.length > 0);
    t.is(events.at(-1).loaded, events.at(-1).total);
  } finally {
    bf.dispose();
  }
  const f = await loadModel(goldenDir('tiny-model-bf16'), { dtype: 'float32' });
  try {
    t.is(f.weights.text.embed.dtype, 'float32');
  } finally {
    f.dispose();
  }
  const down = await loadModel(goldenDir('tiny-model'), { dtype: 'bfloat16' });
  try {
    t.is(down.weights.text.lmHead.dtype, 'bfloat16');
  } finally {
    down.dispose();
  }
});

test('missing, unexpected and misshapen tensors are named', async (t) => {
  const missing = await makeModel(t, { rename: (n) => (n === 'model.layers.1.mlp.up_proj.weight' ? null : n) });
  await t.throwsAsync(loadModel(missing), { message: /missing tensor for 'text\.layers\.1\.mlp\.up_proj\.weight'/ });
  const noHead = await makeModel(t, { rename: (n) => (n === 'lm_head.weight' ? null : n) });
  await t.throwsAsync(loadModel(noHead), { message: /missing tensor for 'lm_head\.weight'.*tie_word_embeddings: false/ });
  const extra = await makeModel(t, { rename: (n) => (n === 'model.norm.weight' ? 'model.norm.extra' : n) });
  await t.throwsAsync(loadModel(extra), { message: /unexpected tensor 'model\.norm\.extra'/ });
  const shape = await makeModel(t, {
    edit: (ts) => { ts['visual.blocks.2.attn.qkv.bias'] = ts['visual.blocks.2.attn.qkv.bias'].view([48]); },
  });
  await t.throwsAsync(loadModel(shape), { message: /tensor 'visual\.blocks\.2\.attn\.qkv\.bias' .* has shape \[48\], expected \[96\]/ });
  const empty = mkdtempSync(join(tmpdir(), 'gmai-weights-'));
  t.teardown(() => rmSync(empty, { recursive: true, force: true }));
  copyFileSync(tiny('config.json'), join(empty, 'config.json'));
  await t.throwsAsync(loadModel(empty), { message: /no model\.safetensors or model\.safetensors\.index\.json in/ });
});

test.serial('loading lets the event loop run between layers (the copies do not block it throughout)', async (t) => {
  let ticks = 0;
  let live = true;
  const tick = () => { ticks++; if (live) setImmediate(tick); };
  setImmediate(tick);
  // Event-loop turns between the first and the last tensor loaded: none if loading were one
  // synchronous stretch.
  let first = -1, last = -1;
  const model = await loadModel(goldenDir('tiny-model'), { onProgress: () => { if (first < 0) first = ticks; last = ticks; } });
  live = false;
  try {
    const layers = model.config.text.numLayers + model.config.vision.depth;
    t.log(`${last - first} event-loop turns while loading ${layers} layers`);
    t.true(last - first >= layers - 1, `only ${last - first} event-loop turns for ${layers} layers`);
  } finally {
    model.dispose();
  }
});
