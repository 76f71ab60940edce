// KV cache bookkeeping, and cached decoding = the rows of one full forward.
import test from 'ava';
import { loadModel } from '../dist/index.js';
import { KvCache } from '../dist/model/kv-cache.js';
import { freshSeed, maxAbsDiff, randomArray, rng } from './helpers.js';
import { goldenDir, inputsOf, loadCase } from './model-golden-helpers.js';

test('slots fill front to back; growth keeps the cached rows; truncate', (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const cache = new KvCache(2, 3, 5, 1);
  t.teardown(() => cache.dispose());
  const rows = [];
  for (let step = 0; step < 4; step++) {
    const n = step + 1;  // 1, 2, 3, 4 tokens: capacity 1 → 2 → 4 → 8 → 16
    cache.reserve(n);
    for (let layer = 0; layer < 2; layer++) {
      const data = randomArray(n * 15, seed + step * 10 + layer);
      const slot = cache.slot(layer, n);
      slot.k.write(data);
      slot.v.write(data.map((x) => -x));
      slot.k.dispose(); slot.v.dispose();
      if (layer === 1) rows.push(...data);
    }
    cache.length += n;
  }
  t.is(cache.length, 10);
  t.is(cache.capacity, 16);
  const all = cache.prefix(1, 10);
  t.deepEqual(Array.from(all.k.toArray()), rows.map(Math.fround));
  t.deepEqual(Array.from(all.v.toArray()), rows.map((x) => Math.fround(-x)));
  all.k.dispose(); all.v.dispose();
  t.throws(() => cache.slot(0, 7), { message: /exceed capacity 16/ });
  cache.truncate(3);
  t.is(cache.length, 3);
  t.throws(() => cache.truncate(4), { message: /not in \[0, 3\]/ });
  t.throws(() => new KvCache(1, 1, 1, 0), { message: /capacity must be a positive integer/ });
});

test('prefill + steps give the logits of a full forward over the same tokens', async (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const c = await loadCase('two-images-f32');
  const inputs = inputsOf(c);
  const extra = Array.from({ length: 5 }, () => r.int(443));
  const model = await loadModel(goldenDir('tiny-model'));
  try {
    const full = await model.forward({ ...inputs, inputIds: [...inputs.inputIds, ...extra] });
    const V = full.vocabSize, L = inputs.inputIds.length;
    const s = model.createSession({ capacity: 1 });
    try {
      const rowsCached = [await s.prefill(inputs)];
      for (const tok of extra.slice(0, -1)) rowsCached.push(await s.step(tok));
      rowsCached.forEach((row, k) => {
        const ref = full.logits.subarray((L - 1 + k) * V, (L + k) * V);
        const { worst } = maxAbsDiff(row, ref);
        t.true(worst < 1e-4, `row ${k}: cached vs full forward differ by ${worst}`);
      });
    } finally {
      s.dispose();
    }
  } finally {
    model.dispose();
  }
});

test('decodeBatch over several sessions = each session stepped alone; fork is independent', async (t) => {
  const seed = freshSeed();
  t.log(`seed ${seed}`);
  const r = rng(seed);
  const single = await loadCase('single-image-f32');
  const text = await loadCase('text-only-f32');
  const model = await loadModel(goldenDir('tiny-model'));
  const sessions = [];
  const open = () => { const s = model.createSession({ capacity: 2 }); sessions.push(s); return s; };
  try {
    // Three sequences of different lengths and rope deltas (one with an image).
    const prompts = [inputsOf(single), inputsOf(text), { inputIds: [5, 6, 7] }];
    const batch = prompts.map(() => open());
    const alone = prompts.map(() => open());
    for (let k = 0; k < prompts.length; k++) {
      await batch[k].prefill(prompts[k]);
      await alone[k].prefill(prompts[k]);
    }
    const forked = batch[0].fork();
    sessions.push(forked);
    for (let step = 0; step < 3; step++) {
      const tokens = prompts.map(() => r.int(443));
      const rows = model.decodeBatch(batch, tokens);
      const V = model.config.text.vocabSize;
      for (let k = 0; k < prompts.length; k++) {
        const ref = await alone[k].step(tokens[k]);
        const { worst } = maxAbsDiff(rows.subarray(k * V, (k + 1) * V), ref);
        t.true(worst < 1e-5, `step ${step}, sequence ${k}: batched vs alone differ by ${worst}`);
      }
    }
    // The fork still sits right after the prompt: its first step equals a fresh session's.
    const tok = r.int(443);
    const fresh = open();
    await fresh.prefill(prompts[0]);
    const { worst } = maxAbsDiff(await forked.step(tok), await fresh.step(tok));
    t.true(worst < 1e-6, `fork differs by ${worst}`);
    t.is(forked.length, prompts[0].inputIds.length + 1);
    t.throws(() => model.decodeBatch([batch[0], batch[0]], [1, 2]), { message: /same KV cache/ });
    t.throws(() => model.decodeBatch([batch[0]], [1, 2]), { message: /2 tokens for 1 sessions/ });
    t.throws(() => model.decodeBatch([open()], [1]), { message: /sessions\[0\] has not been prefilled/ });
  } finally {
    sessions.forEach((s) => s.dispose());
    model.dispose();
  }
});
