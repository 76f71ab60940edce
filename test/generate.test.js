// Generation on the golden tiny Qwen2.5-VL: greedy decoding through the engine (KV cache,
// batched decode steps, native sampler) reproduces transformers' generate(); concurrent
// requests and G samples per prompt give the same tokens as running alone.
import test from 'ava';
import { loadModel } from '../dist/index.js';
import { createGenerator } from '../dist/infer/generate.js';
import { loadCase, inputsOf } from './model-golden-helpers.js';

// The tiny model has no tokenizer: token ids are shown as "<id>" and no stop token is known.
const idTokenizer = {
  createStreamDecoder: () => ({ push: (id) => `<${id}>`, flush: () => '' }),
  tokenToId: () => undefined,
};

async function setup(caseName) {
  const c = await loadCase(caseName);
  const model = await loadModel(c.modelDir);
  return { c, model, gen: createGenerator(model, idTokenizer) };
}

async function collect(it) {
  const chunks = [];
  let r;
  while (!(r = await it.next()).done) chunks.push(r.value);
  return { chunks, result: r.value };
}

for (const caseName of ['text-only-f32', 'single-image-f32', 'two-images-f32']) {
  test(`greedy generation equals transformers generate(): ${caseName}`, async (t) => {
    const { c, model, gen } = await setup(caseName);
    try {
      const want = c.tensors.get('generate.new_tokens').data;
      const { chunks, result } = await collect(gen.generate(inputsOf(c), { temperature: 0, maxNewTokens: want.length, stopTokenIds: [] }));
      t.deepEqual(result[0].tokens, Array.from(want));
      t.deepEqual(chunks.map((x) => x.tokenId), Array.from(want));
      t.is(result[0].text, Array.from(want, (id) => `<${id}>`).join(''));
      t.is(result[0].finishReason, 'length');
      t.true(result[0].logprobs.every((lp) => lp <= 0 && Number.isFinite(lp)));
    } finally {
      model.dispose();
    }
  });
}

test('concurrent requests and G samples match running alone (batched decode is exact)', async (t) => {
  const { c, model, gen } = await setup('text-only-f32');
  try {
    const inputs = inputsOf(c);
    const opts = { temperature: 0.9, topP: 0.95, maxNewTokens: 10, stopTokenIds: [], seed: 7 };
    const alone = (await collect(gen.generate(inputs, opts))).result[0].tokens;
    const shorter = { inputIds: inputs.inputIds.slice(0, 20) };
    const [a, b, g] = await Promise.all([
      collect(gen.generate(inputs, opts)),
      collect(gen.generate(shorter, { ...opts, temperature: 0 })),
      collect(gen.generate(inputs, { ...opts, numReturnSequences: 3 })),
    ]);
    t.deepEqual(a.result[0].tokens, alone, 'same seed, same tokens, whatever else is in the batch');
    t.is(b.result[0].tokens.length, 10);
    t.is(g.result.length, 3);
    const distinct = new Set(g.result.map((s) => s.tokens.join()));
    t.true(distinct.size >= 2, 'G samples from one prefill differ');
    // a seeded run reproduces
    const again = (await collect(gen.generate(inputs, opts))).result[0].tokens;
    t.deepEqual(again, alone);
  } finally {
    model.dispose();
  }
});

test('abort stops a generation; a bad prompt is a clear error', async (t) => {
  const { c, model, gen } = await setup('text-only-f32');
  try {
    const ac = new AbortController();
    const it = gen.generate(inputsOf(c), { temperature: 0, maxNewTokens: 1000, stopTokenIds: [], signal: ac.signal });
    let n = 0;
    await t.throwsAsync(async () => { for await (const _ of it) { if (++n === 3) ac.abort(new Error('stop now')); } }, { message: 'stop now' });
    t.true(n < 10);
    await t.throwsAsync(collect(gen.generate({ inputIds: [] }, { maxNewTokens: 3 })), { message: /empty/ });
  } finally {
    model.dispose();
  }
});

test('model.generate streams with the tokenizer of the model folder, and takes one in options', async (t) => {
  const { c, model } = await setup('text-only-f32');
  try {
    const want = Array.from(c.tensors.get('generate.new_tokens').data);
    // The golden folder has no tokenizer.json: the error says what to do.
    t.throws(() => model.generate(inputsOf(c), { temperature: 0, maxNewTokens: 2 }), { message: /no tokenizer\.json/ });
    const { chunks, result } = await collect(model.generate(inputsOf(c), { tokenizer: idTokenizer, temperature: 0, maxNewTokens: want.length, stopTokenIds: [] }));
    t.deepEqual(result[0].tokens, want);
    t.deepEqual(chunks.map((x) => x.tokenId), want);
    t.true(chunks.every((x) => typeof x.text === 'string' && Number.isFinite(x.logprob)));
  } finally {
    model.dispose();
  }
});

test('model.generate on a folder with a tokenizer decodes text and stops at <|im_end|>', async (t) => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { writeTinyModel, Tokenizer } = await import('../dist/index.js');
  const dir = await writeTinyModel(mkdtempSync(join(tmpdir(), 'gmai-gen-')), { seed: 3 });
  const model = await loadModel(dir);
  try {
    const tok = Tokenizer.fromDir(dir);
    const inputIds = Int32Array.from(tok.encode('<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n'));
    const { chunks, result } = await collect(model.generate({ inputIds }, { maxNewTokens: 12, seed: 9 }));
    t.is(chunks.map((x) => x.text).join(''), result[0].text);
    t.is(result[0].text, tok.decode(result[0].tokens.filter((id) => id !== tok.tokenToId('<|im_end|>')), { skipSpecialTokens: true }));
    t.true(['stop', 'length'].includes(result[0].finishReason));
    // The same seed reproduces the run, alone or next to another request.
    const [again, other] = await Promise.all([
      collect(model.generate({ inputIds }, { maxNewTokens: 12, seed: 9 })),
      collect(model.generate({ inputIds }, { maxNewTokens: 12, seed: 10 })),
    ]);
    t.deepEqual(again.result[0].tokens, result[0].tokens);
    t.true(other.result[0].tokens.length >= 1);
  } finally {
    model.dispose();
  }
});

// A model folder's generation_config.json `stop_strings` (transformers' GenerationConfig) end
// generation after the string, which stays in the text; a request's stopStrings end it before,
// which the text leaves out. The golden model's ids decode as "<id>", so a stop string can be
// picked from a greedy run's own text.
test("generation_config stop_strings end generation after the string (kept); a request's stopStrings before it (left out)", async (t) => {
  const { cpSync, mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const c = await loadCase('text-only-f32');
  const want = Array.from(c.tensors.get('generate.new_tokens').data);
  t.true(want.length >= 4, 'the golden run is long enough to stop inside it');
  const stop = `<${want[2]}>`;
  const firstAt = want.findIndex((id) => `<${id}>` === stop);
  const dir = mkdtempSync(join(tmpdir(), 'gmai-stop-strings-'));
  cpSync(c.modelDir, dir, { recursive: true });
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [], stop_strings: stop }));
  const model = await loadModel(dir);
  try {
    t.deepEqual(model.config.stopStrings, [stop]);
    const gen = createGenerator(model, idTokenizer);
    const opts = { temperature: 0, maxNewTokens: want.length, stopTokenIds: [] };
    const kept = (await collect(gen.generate(inputsOf(c), opts))).result[0];
    t.is(kept.finishReason, 'stop');
    t.deepEqual(kept.tokens, want.slice(0, firstAt + 1));
    t.is(kept.text, want.slice(0, firstAt + 1).map((id) => `<${id}>`).join(''));
    const left = (await collect(gen.generate(inputsOf(c), { ...opts, stopStrings: [stop] }))).result[0];
    t.is(left.finishReason, 'stop');
    t.is(left.text, want.slice(0, firstAt).map((id) => `<${id}>`).join(''));
  } finally {
    model.dispose();
  }
});
