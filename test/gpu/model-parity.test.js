// Model-level CUDA parity on the golden tiny cases: the same model loaded on 'cuda' and on 'cpu'
// gives the same logits, hidden states, image embeds and completion log-probs; greedy
// generation on CUDA reproduces the golden tokens; a CUDA session's prefill and steps (growing
// cache, fork, batched decode) give the rows of its full forward. Skips without a GPU.
import test from 'ava';
import { loadModel } from '../../dist/index.js';
import { createGenerator } from '../../dist/infer/generate.js';
import { maxAbsDiff } from '../helpers.js';
import { checkTensor, inputsOf, loadCase } from '../model-golden-helpers.js';
import { gpuTest } from './gpu.js';

// float32 cases: CUDA vs CPU within 1e-4. bf16: the bf16 weights stay bf16 on both devices
// (same weights, float32 compute), within 1e-3.
const CASES = [
  { name: 'single-image-f32', tol: 1e-4 },
  { name: 'two-images-f32', tol: 1e-4 },
  { name: 'text-only-f32', tol: 1e-4 },
  { name: 'single-image-bf16', tol: 1e-3, bf16: true },
];

// The tiny model has no tokenizer: ids stand for themselves, no stop token.
const idTokenizer = {
  createStreamDecoder: () => ({ push: (id) => `<${id}>`, flush: () => '' }),
  tokenToId: () => undefined,
};

function near(t, what, actual, expected, tol) {
  const { worst, at } = maxAbsDiff(actual, expected);
  t.true(worst <= tol, `${what}: max |cuda - cpu| = ${worst} at ${at} (tolerance ${tol})`);
}

async function greedyTokens(model, inputs, n) {
  const it = createGenerator(model, idTokenizer).generate(inputs, { temperature: 0, maxNewTokens: n, stopTokenIds: [] });
  let r;
  while (!(r = await it.next()).done);
  return r.value[0].tokens;
}

async function bothDevices(c, fn) {
  const cpu = await loadModel(c.modelDir);
  let cuda;
  try {
    cuda = await loadModel(c.modelDir, { device: 'cuda' });
    await fn(cpu, cuda);
  } finally {
    cuda?.dispose();
    cpu.dispose();
  }
}

for (const { name, tol, bf16 } of CASES) {
  gpuTest(`cuda = cpu: forward, hidden states, image embeds, scores, greedy tokens: ${name}`, async (t) => {
    const c = await loadCase(name);
    const inputs = inputsOf(c);
    await bothDevices(c, async (cpu, cuda) => {
      const w = cuda.weights.text;
      t.is(cuda.device, 'cuda');
      t.is(w.embed.device, 'cuda');
      t.is(cuda.weights.vision.blocks[0].q.weight.device, 'cuda');
      t.is(w.embed.dtype, cpu.weights.text.embed.dtype, 'weights keep their dtype');
      if (cuda.config.text.tieWordEmbeddings) t.is(w.lmHead, w.embed, 'tied lm_head shares the embedding');

      const opts = { outputHiddenStates: true };
      const [a, b] = [await cpu.forward(inputs, opts), await cuda.forward(inputs, opts)];
      near(t, 'logits', b.logits, a.logits, tol);
      t.is(b.hiddenStates.length, a.hiddenStates.length);
      b.hiddenStates.forEach((h, i) => near(t, `hidden state ${i}`, h, a.hiddenStates[i], tol));
      t.is(Boolean(b.imageEmbeds), Boolean(a.imageEmbeds));
      if (a.imageEmbeds) near(t, 'image embeds', b.imageEmbeds, a.imageEmbeds, tol);
      t.deepEqual(b.positionIds, a.positionIds);
      t.is(b.ropeDeltas, a.ropeDeltas);
      checkTensor(t, c, bf16 ? 'logits_f32_compute' : 'logits', b.logits);

      const completion = c.tensors.get('logprob.completion_ids').data;
      near(t, 'completion log-probs', await cuda.scoreCompletion(inputs, completion), await cpu.scoreCompletion(inputs, completion), tol);

      const want = Array.from(c.tensors.get('generate.new_tokens').data);
      const upTo = c.manifest.stats.generate_compare_tokens_up_to_step;
      const tokens = await greedyTokens(cuda, inputs, want.length);
      t.deepEqual(tokens.slice(0, upTo), want.slice(0, upTo), 'greedy tokens on cuda = golden');
    });
  });
}

gpuTest('a cuda session (growing cache, fork, batched decode) gives the rows of the full forward', async (t) => {
  const c = await loadCase('two-images-f32');
  const inputs = inputsOf(c);
  const extra = [5, 17, 101, 300, 42];
  const model = await loadModel(c.modelDir, { device: 'cuda' });
  const session = model.createSession({ capacity: 1 });  // grows by doubling, on the device
  let fork;
  try {
    t.is(session.cache.device, 'cuda');
    const full = await model.forward({ ...inputs, inputIds: [...inputs.inputIds, ...extra] });
    const V = full.vocabSize, L = inputs.inputIds.length;
    const row = (k) => full.logits.subarray((L - 1 + k) * V, (L + k) * V);
    near(t, 'prefill row', await session.prefill(inputs), row(0), 1e-4);
    fork = session.fork();
    t.is(fork.cache.device, 'cuda');
    for (let k = 1; k < extra.length; k++) {
      const rows = model.decodeBatch([session, fork], [extra[k - 1], extra[k - 1]]);
      near(t, `step ${k}`, rows.subarray(0, V), row(k), 1e-4);
      near(t, `fork step ${k}`, rows.subarray(V), row(k), 1e-4);
    }
    near(t, 'session.step', await session.step(extra[extra.length - 1]), await fork.step(extra[extra.length - 1]), 1e-6);
  } finally {
    fork?.dispose();
    session.dispose();
    model.dispose();
  }
});
