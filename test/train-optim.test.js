// The AdamW optimizer (lib/train/optim.ts): named parameters with fp32 masters and bf16/f32 model
// weights, against a float64 AdamW + clip_grad_norm_ reference; the non-finite guard; parameters
// without a gradient; state()/loadState() giving a bit-identical resume; the no-decay rule.
import test from 'ava';
import { AdamW, Tensor, noDecay, ops } from '../dist/index.js';
import { assertClose, freshSeed, randomArray, roundBf16 } from './helpers.js';
import { adamwReference } from './optim-helpers.js';

const SHAPES = { 'model.embed_tokens.weight': [11, 5], 'model.layers.0.mlp.down_proj.weight': [3, 7], 'model.norm.weight': [5], 'visual.merger.mlp.0.bias': [1] };
const HYPER = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
/** Of SHAPES, the parameters that take no weight decay (a norm and a bias). */
const NO_DECAY = new Set(['model.norm.weight', 'visual.merger.mlp.0.bias']);

/** Model weights (bf16 for the matrices, f32 for the rest), as a loaded model holds them. */
function makeWeights(seed) {
  return Object.entries(SHAPES).map(([name, shape], i) => {
    const w = Tensor.from(randomArray(shape.reduce((a, b) => a * b, 1), seed + i), shape);
    if (shape.length === 1) return [name, w];
    const bf = ops.cast(w, 'bfloat16');
    w.dispose();
    return [name, bf];
  });
}
const sizeOf = (name) => SHAPES[name].reduce((a, b) => a * b, 1);
const randomGrads = (seed, scale = 1) => new Map(Object.keys(SHAPES).map((n, i) => [n, randomArray(sizeOf(n), seed + 17 * i, -scale, scale)]));

/** Float64 mirror of the optimizer: masters start as the weights' values. */
function reference(weights) {
  const state = new Map(weights.map(([name, w]) => [name, { p: Float64Array.from(w.toArray()), m: new Float64Array(w.size), v: new Float64Array(w.size), steps: 0 }]));
  return {
    state,
    step(grads, { lr, maxGradNorm, gradScale = 1 }) {
      let ss = 0;
      for (const g of grads.values()) for (const x of g) ss += (x * gradScale) ** 2;
      const norm = Math.sqrt(ss);
      const clip = maxGradNorm ? Math.min(1, maxGradNorm / (norm + 1e-6)) : 1;
      for (const [name, g] of grads) {
        const s = state.get(name);
        s.steps++;
        adamwReference(s.p, g, s.m, s.v, { ...HYPER, lr, weightDecay: NO_DECAY.has(name) ? 0 : HYPER.weightDecay, step: s.steps, gradScale: gradScale * clip });
      }
      return { norm, clip };
    },
  };
}

function disposeWeights(weights) {
  for (const [, w] of weights) w.dispose();
}

function checkAgainst(t, opt, weights, ref, what) {
  const { tensors } = opt.state();
  for (const [name, w] of weights) {
    const r = ref.state.get(name);
    const master = w.dtype === 'float32' ? w.toArray() : tensors.get(`${name}.master`).toArray();
    assertClose(t, master, r.p, { atol: 1e-6, rtol: 1e-5, what: `${what}: master ${name}` });
    assertClose(t, tensors.get(`${name}.exp_avg`).toArray(), r.m, { atol: 1e-7, rtol: 1e-5, what: `${what}: exp_avg ${name}` });
    assertClose(t, tensors.get(`${name}.exp_avg_sq`).toArray(), r.v, { atol: 1e-9, rtol: 1e-5, what: `${what}: exp_avg_sq ${name}` });
    if (w.dtype === 'bfloat16') t.deepEqual(w.toArray(), master.map(roundBf16), `${what}: bf16 weight ${name} is the rounded master`);
  }
}

test('AdamW.forModel: bf16 weights get fp32 masters, norms and biases no decay; steps, clipping and gradScale match a float64 reference', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const weights = makeWeights(seed);
  const opt = AdamW.forModel(weights, { ...HYPER, maxGradNorm: 1 });
  try {
    const ref = reference(weights);
    const lrs = [1e-2, 5e-3, 2e-3, 1e-3];
    for (let k = 0; k < lrs.length; k++) {
      // step 1 is clipped (norm ≈ 3.7 > 1), step 2 is not (norm < 1); step 3 scales gradients first
      const grads = randomGrads(seed + 1000 * k, k === 1 ? 0.05 : 1);
      const gradScale = k === 2 ? 0.25 : 1;
      const want = ref.step(grads, { lr: lrs[k], maxGradNorm: 1, gradScale });
      const got = opt.step(grads, { lr: lrs[k], loss: 1.5, gradScale });
      t.false(got.skipped);
      t.is(got.step, k + 1);
      t.true(Math.abs(got.gradNorm - want.norm) <= 1e-12 * want.norm, `step ${k + 1}: grad norm ${got.gradNorm}, reference ${want.norm}`);
      t.true(Math.abs(got.clipScale - want.clip) <= 1e-12, `step ${k + 1}: clip ${got.clipScale}, reference ${want.clip}`);
      t.true(k === 1 ? want.clip === 1 : want.clip < 1, `step ${k + 1} was meant to ${k === 1 ? 'not ' : ''}clip (norm ${want.norm})`);
      checkAgainst(t, opt, weights, ref, `step ${k + 1}, seed ${seed}`);
    }
  } finally {
    opt.dispose();
    disposeWeights(weights);
  }
});

test('a step whose loss or gradient norm is NaN/Inf is skipped and reported; weights and moments stay bit-identical', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const weights = makeWeights(seed);
  const opt = AdamW.forModel(weights, HYPER);
  const snapshot = () => {
    const s = opt.state();
    return [...weights.map(([n, w]) => [n, Buffer.from(w.toBytes())]), ...[...s.tensors].map(([n, x]) => [n, Buffer.from(x.toBytes())])];
  };
  try {
    const ref = reference(weights);
    ref.step(randomGrads(seed), { lr: 1e-2 });
    opt.step(randomGrads(seed), { lr: 1e-2, loss: 2 });
    const before = snapshot();
    const nanLoss = opt.step(randomGrads(seed + 1), { lr: 1e-2, loss: NaN });
    t.like(nanLoss, { skipped: true, step: 1 });
    t.regex(nanLoss.reason, /loss is NaN/);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const grads = randomGrads(seed + 2);
      grads.get('model.norm.weight')[3] = bad;
      const r = opt.step(grads, { lr: 1e-2, loss: 1 });
      t.like(r, { skipped: true, step: 1 });
      t.regex(r.reason, /gradient norm is (NaN|Infinity)/);
    }
    // finite gradients that a gradScale takes beyond float32 are caught by the (float64) norm
    const huge = randomGrads(seed + 3);
    huge.get('model.norm.weight').fill(3e38);
    const hugeScaled = opt.step(huge, { lr: 1e-2, gradScale: 1e10 });
    t.like(hugeScaled, { skipped: true });
    t.regex(hugeScaled.reason, /beyond float32/);
    t.deepEqual(snapshot(), before, 'skipped steps wrote nothing');
    t.is(opt.skippedSteps, 5);
    t.is(opt.stepCount, 1);
    // the next good step is the second step (bias corrections with step 2)
    ref.step(randomGrads(seed + 4), { lr: 1e-2 });
    opt.step(randomGrads(seed + 4), { lr: 1e-2, loss: 1 });
    checkAgainst(t, opt, weights, ref, `after skipped steps, seed ${seed}`);
  } finally {
    opt.dispose();
    disposeWeights(weights);
  }
});

test('a parameter without a gradient is left alone and keeps its own step count (torch skips grad None)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const weights = makeWeights(seed);
  const opt = AdamW.forModel(weights, HYPER);
  try {
    const ref = reference(weights);
    const partial = randomGrads(seed);
    partial.delete('model.norm.weight');
    const normBefore = weights.find(([n]) => n === 'model.norm.weight')[1].toArray();
    ref.step(partial, { lr: 1e-2 });
    opt.step(partial, { lr: 1e-2 });
    t.deepEqual(weights.find(([n]) => n === 'model.norm.weight')[1].toArray(), normBefore);
    ref.step(randomGrads(seed + 1), { lr: 1e-2 });
    opt.step(randomGrads(seed + 1), { lr: 1e-2 });  // two native calls: steps 2 and 1
    t.deepEqual(opt.state().meta.steps, { 'model.embed_tokens.weight': 2, 'model.layers.0.mlp.down_proj.weight': 2, 'model.norm.weight': 1, 'visual.merger.mlp.0.bias': 2 });
    checkAgainst(t, opt, weights, ref, `seed ${seed}`);
  } finally {
    opt.dispose();
    disposeWeights(weights);
  }
});

test('step refuses unknown names, wrong sizes and bad options, naming them', (t) => {
  const weights = makeWeights(1);
  const opt = AdamW.forModel(weights, HYPER);
  try {
    t.throws(() => opt.step(new Map([['lm_head.weight', new Float32Array(3)]]), { lr: 1 }), { message: /'lm_head.weight', which is not a parameter/ });
    t.throws(() => opt.step(new Map([['model.norm.weight', new Float32Array(4)]]), { lr: 1 }), { message: /gradient of 'model.norm.weight' has 4 elements, the parameter 5/ });
    t.throws(() => opt.step(new Map(), { lr: -1 }), { message: /'lr' must be a finite number >= 0/ });
    t.throws(() => opt.step(new Map(), {}), { message: /'lr'/ });
    t.throws(() => opt.step(new Map([['model.norm.weight', [1, 2, 3, 4, 5]]]), { lr: 1 }), { message: /gradient of 'model.norm.weight' must be a float32 tensor or a Float32Array/ });
    t.throws(() => opt.step(new Map(), { lr: 1, loss: '1' }), { message: /'loss' must be a number/ });
    t.throws(() => opt.step({}, { lr: 1 }), { message: /grads must be a Map/ });
    t.throws(() => new AdamW([], { beta2: 1 }), { message: /'beta2' must be in \[0, 1\)/ });
    const m = Tensor.zeros([2]);
    t.throws(() => new AdamW([{ name: 'a', master: m, decay: true }, { name: 'a', master: m, decay: true }]), { message: /'a' is listed twice/ });
    m.dispose();
    t.is(opt.stepCount, 0);
  } finally {
    opt.dispose();
    disposeWeights(weights);
  }
});

test('state() + loadState() into a fresh optimizer resumes bit-identically (2 + 2 steps = 4 steps)', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const lrs = [1e-2, 8e-3, 6e-3, 4e-3];
  const gradsAt = (k) => randomGrads(seed + 100 * k, 2);
  // straight run
  const straightW = makeWeights(seed);
  const straight = AdamW.forModel(straightW, { ...HYPER, maxGradNorm: 1 });
  lrs.forEach((lr, k) => straight.step(gradsAt(k), { lr }));
  // two steps, save (copies, as a checkpoint would), drop everything, reload, two more
  const firstW = makeWeights(seed);
  const first = AdamW.forModel(firstW, { ...HYPER, maxGradNorm: 1 });
  first.step(gradsAt(0), { lr: lrs[0] });
  first.step(gradsAt(1), { lr: lrs[1] });
  const saved = first.state();
  const savedTensors = new Map([...saved.tensors].map(([n, x]) => [n, x.clone()]));
  const savedMeta = JSON.parse(JSON.stringify(saved.meta));
  const savedWeights = firstW.map(([n, w]) => [n, w.clone()]);
  first.dispose();
  disposeWeights(firstW);
  const resumed = AdamW.forModel(savedWeights, { ...HYPER, maxGradNorm: 1 });
  try {
    resumed.loadState({ tensors: savedTensors, meta: savedMeta });
    t.is(resumed.stepCount, 2);
    resumed.step(gradsAt(2), { lr: lrs[2] });
    resumed.step(gradsAt(3), { lr: lrs[3] });
    const a = straight.state(), b = resumed.state();
    t.deepEqual([...b.tensors.keys()], [...a.tensors.keys()]);
    for (const [name, x] of a.tensors) t.deepEqual(b.tensors.get(name).toBytes(), x.toBytes(), `${name} differs after resume`);
    straightW.forEach(([name, w], i) => t.deepEqual(savedWeights[i][1].toBytes(), w.toBytes(), `weight ${name} differs after resume`));
    t.deepEqual(b.meta, a.meta);
    // a state of other parameters is refused before anything is written
    const other = new Map(savedTensors);
    other.delete('model.norm.weight.exp_avg');
    t.throws(() => resumed.loadState({ tensors: other, meta: savedMeta }), { message: /no tensor 'model.norm.weight.exp_avg'/ });
    t.throws(() => resumed.loadState({ tensors: savedTensors, meta: { ...savedMeta, steps: { x: 1 } } }), { message: /not saved: model\.embed_tokens\.weight.*saved but not parameters: x/ });
    t.throws(() => resumed.loadState({ tensors: savedTensors, meta: { format: 'other' } }), { message: /not a gmai-adamw version 1 state/ });
    t.is(resumed.stepCount, 4);
  } finally {
    straight.dispose();
    resumed.dispose();
    disposeWeights(straightW);
    disposeWeights(savedWeights);
    for (const x of savedTensors.values()) x.dispose();
  }
});

test('noDecay: biases and norms (HF names of Qwen2.5-VL) take no weight decay; matrices and embeddings do', (t) => {
  const exempt = [
    'model.layers.0.self_attn.q_proj.bias', 'model.layers.3.input_layernorm.weight', 'model.layers.3.post_attention_layernorm.weight',
    'model.norm.weight', 'visual.blocks.0.norm1.weight', 'visual.blocks.31.norm2.weight', 'visual.merger.ln_q.weight',
    'visual.merger.mlp.0.bias', 'model.language_model.norm.weight', 'model.visual.merger.ln_q.weight',
  ];
  const decayed = [
    'model.embed_tokens.weight', 'lm_head.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.gate_proj.weight',
    'visual.patch_embed.proj.weight', 'visual.blocks.0.attn.qkv.weight', 'visual.merger.mlp.2.weight', 'model.language_model.layers.1.mlp.up_proj.weight',
  ];
  for (const n of exempt) t.true(noDecay(n), n);
  for (const n of decayed) t.false(noDecay(n), n);
});
