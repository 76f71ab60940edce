// The Qwen2.5-VL model against transformers 4.50 reference outputs (test/fixtures/qwen2_5_vl,
// copied from the shared golden set): every recorded tensor of every case, at the manifest
// tolerances. float32 cases use the float32 checkpoint; the bf16 case keeps bf16 weights and
// computes in float32, so its logits are held to `logits_f32_compute` (float32 run of the same
// bf16 weights, 2e-4) and the bf16-run tensors to their manifest (bf16-noise) tolerances.
import test from 'ava';
import { loadModel } from '../dist/index.js';
import { decodePositionIds } from '../dist/model/rope-index.js';
import { checkTensor, inputsOf, loadCase } from './model-golden-helpers.js';

const INPUTS = ['input_ids', 'attention_mask', 'pixel_values', 'image_grid_thw'];

function argmax(row) {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

async function checkCase(t, name, { loadOptions = {}, bf16 = false } = {}) {
  const c = await loadCase(name);
  const checked = new Set(INPUTS);
  const check = (tensorName, actual, opts) => {
    checked.add(tensorName);
    const gap = checkTensor(t, c, tensorName, actual, opts);
    t.log(`${tensorName}: max gap ${gap.toExponential(2)}`);
  };
  const model = await loadModel(c.modelDir, loadOptions);
  try {
    const inputs = inputsOf(c);
    const traced = new Map();
    const out = await model.forward(inputs, { outputHiddenStates: true, trace: (n, x) => traced.set(n, x.toArray()) });

    check('rope.position_ids', out.positionIds);
    check('rope.rope_deltas', [out.ropeDeltas]);
    for (const [n, data] of traced) check(n, data);
    if (out.imageEmbeds) check('vision.output', out.imageEmbeds);
    out.hiddenStates.forEach((h, i) => check(`text.layer_out.${i}`, h));
    if (bf16) {
      check('logits_f32_compute', out.logits);
      check('logits', out.logits);
    } else {
      check('logits', out.logits);
    }

    const completion = c.tensors.get('logprob.completion_ids').data;
    checked.add('logprob.completion_ids');
    check('logprob.values', await model.scoreCompletion(inputs, completion));

    // Greedy generation with the KV cache: step 0 = last prefill row, then one token per step.
    const steps = c.tensors.get('generate.new_tokens').data.length;
    const session = model.createSession({ capacity: 8 });  // small on purpose: exercises growth
    const tokens = [], stepLogits = new Float32Array(steps * out.vocabSize);
    try {
      let logits = await session.prefill(inputs);
      for (let s = 0; s < steps; s++) {
        stepLogits.set(logits, s * out.vocabSize);
        tokens.push(argmax(logits));
        if (s + 1 < steps) logits = await session.step(tokens[s]);
      }
    } finally {
      session.dispose();
    }
    const upTo = c.manifest.stats.generate_compare_tokens_up_to_step;
    checked.add('generate.new_tokens');
    t.deepEqual(tokens.slice(0, upTo), c.tensors.get('generate.new_tokens').data.slice(0, upTo), 'greedy tokens');
    check('generate.step_logits', stepLogits);
    const seq = inputs.inputIds.length;
    const pos = decodePositionIds(seq, steps - 1, out.ropeDeltas);  // [3, steps-1]
    const perStep = [];
    for (let s = 0; s < steps - 1; s++) for (let r = 0; r < 3; r++) perStep.push(pos[r * (steps - 1) + s]);
    check('generate.decode_position_ids', perStep);
  } finally {
    model.dispose();
  }
  // The pure layout tensors are checked in model-vision-layout.test.js.
  for (const n of ['vision.window_index', 'vision.cu_window_seqlens_raw', 'vision.cu_window_seqlens', 'vision.cu_seqlens', 'vision.rot_pos_emb']) checked.add(n);
  const unchecked = c.manifest.tensors.map((e) => e.name).filter((n) => !checked.has(n));
  t.deepEqual(unchecked, [], 'every golden tensor is compared');
}

test('single image (partial windows), float32', (t) => checkCase(t, 'single-image-f32'));
test('two images of different grids with text between, float32', (t) => checkCase(t, 'two-images-f32'));
test('text only, float32', (t) => checkCase(t, 'text-only-f32'));
test('single image, bf16 weights kept bf16, float32 compute', (t) => checkCase(t, 'single-image-bf16', { bf16: true }));
test('single image, bf16 checkpoint converted to float32 at load', (t) =>
  checkCase(t, 'single-image-bf16', { bf16: true, loadOptions: { dtype: 'float32' } }));
